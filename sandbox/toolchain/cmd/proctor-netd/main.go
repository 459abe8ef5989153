// proctor-netd is the pod network of Proctor's kind nodes: one DaemonSet pod
// per node, on the host network.
//
// All nodes share one Docker network, so pod traffic needs no tunnel: each
// node bridges its own pods (the standard bridge and host-local CNI plugins,
// configured with the node's spec.podCIDR) and routes every other node's pod
// CIDR via that node's InternalIP. A node that joins later (the kubeadm join
// task) is picked up within a few seconds.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

const (
	confDir  = "/etc/cni/net.d"
	confFile = "10-proctor.conflist"
	interval = 3 * time.Second
)

func main() {
	self := os.Getenv("NODE_NAME")
	if self == "" {
		log.Fatal("NODE_NAME is not set (the DaemonSet passes spec.nodeName)")
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		log.Fatalf("in-cluster config: %v", err)
	}
	client := kubernetes.NewForConfigOrDie(cfg)
	routes := map[string]string{} // pod CIDR -> node IP, as last applied
	wroteConf := false
	for {
		nodes, err := client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
		if err != nil {
			log.Printf("listing nodes: %v", err)
			time.Sleep(interval)
			continue
		}
		want := map[string]string{}
		for _, n := range nodes.Items {
			cidr, ip := n.Spec.PodCIDR, internalIP(&n)
			if cidr == "" {
				continue
			}
			if n.Name == self {
				if !wroteConf {
					if err := writeConf(cidr); err != nil {
						log.Printf("writing CNI config: %v", err)
					} else {
						wroteConf = true
						log.Printf("CNI config written for %s (%s)", self, cidr)
					}
				}
				continue
			}
			if ip != "" {
				want[cidr] = ip
			}
		}
		for cidr, ip := range want {
			if routes[cidr] == ip {
				continue
			}
			if out, err := exec.Command("ip", "route", "replace", cidr, "via", ip).CombinedOutput(); err != nil {
				log.Printf("route %s via %s: %v: %s", cidr, ip, err, out)
				continue
			}
			routes[cidr] = ip
			log.Printf("route %s via %s", cidr, ip)
		}
		for cidr := range routes {
			if _, ok := want[cidr]; !ok {
				_ = exec.Command("ip", "route", "del", cidr).Run()
				delete(routes, cidr)
				log.Printf("route %s removed", cidr)
			}
		}
		time.Sleep(interval)
	}
}

func internalIP(n *corev1.Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP && net.ParseIP(a.Address).To4() != nil {
			return a.Address
		}
	}
	return ""
}

// writeConf writes the node's CNI configuration atomically: containerd picks
// up the file as soon as it appears, so it must never be seen half-written.
func writeConf(podCIDR string) error {
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "proctor",
		"plugins": []map[string]any{
			{
				"type": "bridge", "bridge": "cni0", "isGateway": true,
				"ipMasq": false, "hairpinMode": true,
				"ipam": map[string]any{
					"type":   "host-local",
					"ranges": [][]map[string]string{{{"subnet": podCIDR}}},
					"routes": []map[string]string{{"dst": "0.0.0.0/0"}},
				},
			},
			{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	data, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(confDir, "."+confFile+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(confDir, confFile)); err != nil {
		return fmt.Errorf("rename: %w", err)
	}
	return nil
}
