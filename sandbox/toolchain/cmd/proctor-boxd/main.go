// proctor-boxd runs inside the gVisor sandbox ("the box") that is one real
// node of a Proctor sandbox with real containers. The box has no network to
// the host: its only ways out and in are Unix sockets in one folder the host
// shares with it (--host-uds), and proctor-boxd serves them:
//
//   - the API relay: 127.0.0.1:6443 in the box leads to api.sock, which the
//     host relays to this sandbox's API server (and nothing else);
//   - the dialer: dial.sock, where the host's egress proxy (the API server's
//     only way out) asks for a connection to an address inside the box (a
//     kubelet, a pod, a Service), so kubectl logs, exec, port-forward, the
//     metrics API and webhooks reach what they name, and nothing outside;
//   - the Services: gVisor's netstack has no conntrack, statistic or
//     masquerade for kube-proxy's rules, so proctor-boxd proxies every
//     ClusterIP and NodePort itself, in user space, round-robin over the
//     ready endpoints (each ClusterIP is an address on lo, which pods reach
//     through their default route). The kubernetes Service leads to the
//     API relay;
//   - the nodes' resource metrics for metrics-server, which their kubelets
//     cannot give inside gVisor (metrics.go).
//
// Usage (the box's init starts it): proctor-boxd -dir /run/proctor-host
// -kubeconfig /run/proctor-host/kubelet.conf -node-ips 192.168.77.11,192.168.77.12
package main

import (
	"flag"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	dir := flag.String("dir", "/run/proctor-host", "the folder shared with the host")
	kubeconfig := flag.String("kubeconfig", "/run/proctor-host/kubelet.conf", "credentials for the API")
	nodeIPs := flag.String("node-ips", "", "the box's nodes' InternalIPs, comma-separated (NodePorts listen there)")
	apiAddr := flag.String("api", "127.0.0.1:6443", "where the API relay listens in the box")
	metricsPort := flag.Int("metrics-port", 10251, "where each node's address serves its resource metrics")
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)

	api := filepath.Join(*dir, "api.sock")
	go serveTCP(*apiAddr, func(c net.Conn) { relay(c, "unix", api) })

	dial := filepath.Join(*dir, "dial.sock")
	_ = os.Remove(dial)
	ln, err := net.Listen("unix", dial)
	if err != nil {
		log.Fatalf("dialer: listen on %s: %v", dial, err)
	}
	go serveDialer(ln)

	if err := os.WriteFile(filepath.Join(*dir, "boxd.ready"), []byte("ok\n"), 0o644); err != nil {
		log.Printf("writing boxd.ready: %v", err)
	}
	// The box boots while the host starts the control plane; the node's
	// credentials arrive once the API server has made them.
	for {
		if _, err := os.Stat(*kubeconfig); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	var ips []net.IP
	for _, s := range strings.Split(*nodeIPs, ",") {
		if ip := net.ParseIP(strings.TrimSpace(s)); ip != nil {
			ips = append(ips, ip)
		}
	}
	go serveMetrics(ips, *metricsPort)
	newServiceProxy(*kubeconfig, *apiAddr, ips).run()
}
