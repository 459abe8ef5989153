// The resource metrics of the box's nodes, for metrics-server (kubectl top).
//
// A kubelet serves them itself at /metrics/resource, from cAdvisor, and
// cAdvisor needs cgroup files gVisor does not have (cpuacct.usage_percpu,
// memory.stat …): inside gVisor that endpoint and /stats/summary fail
// ("failed to get root cgroup stats"). gVisor does keep, for every cgroup,
// the CPU time its tasks used (cpuacct.usage, counting its children) and the
// memory charged to them (memory.usage_in_bytes), and a container's cgroup
// is named after its id. So proctor-boxd serves the same figures, in the
// kubelet's format, on each node's address at -metrics-port, over HTTPS with
// a self-signed certificate (metrics-server runs with --kubelet-insecure-tls
// and --kubelet-port at that port; sandbox/gvisor/addons.py):
//
//   - the node: its kubelet's cgroupRoot (from the kubelet's /configz);
//   - each running container: its cgroup, found by its id among those the
//     node's kubelet lists (its /pods: namespace, pod, container, start).
//
// Only what metrics-server v0.8.0 reads (pkg/scraper/client/resource/
// decode.go) and scrape_error; no pod_* totals, which it does not read.
// Memory is usage, page cache included: gVisor has no memory.stat to take
// the inactive files out of it as a working set would.
package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

const (
	kubeletPort = 10250
	cgroupFS    = "/sys/fs/cgroup"
)

// nodeMetrics answers for the node whose kubelet listens on ip.
type nodeMetrics struct {
	ip      string
	kubelet *http.Client
	mu      sync.Mutex // one scrape at a time: it updates own and gone
	root    string     // the kubelet's cgroupRoot, once known
	// gVisor forgets the CPU time of a removed cgroup, where Linux keeps it
	// in the parent's: the node's counter would go back whenever a pod goes.
	// So each cgroup's own share is noted at every scrape, and added to
	// gone once the cgroup is not there any more.
	own  map[string]uint64
	gone uint64
}

// serveMetrics serves /metrics/resource on port of each node's address.
func serveMetrics(ips []net.IP, port int) {
	cert, err := selfSigned(ips)
	if err != nil {
		log.Printf("metrics: %v", err)
		return
	}
	for _, ip := range ips {
		m := &nodeMetrics{ip: ip.String(), own: map[string]uint64{}, kubelet: &http.Client{
			Timeout: 5 * time.Second,
			// the kubelet's own self-signed certificate, at its node's
			// address on the box's loopback
			Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		}}
		mux := http.NewServeMux()
		mux.Handle("/metrics/resource", m)
		srv := &http.Server{
			Addr: net.JoinHostPort(m.ip, strconv.Itoa(port)), Handler: mux,
			TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}},
			ReadHeaderTimeout: 10 * time.Second,
		}
		// a port taken is logged, not fatal: the API relay and the Services matter more
		go func() { log.Printf("metrics on %s: %v", srv.Addr, srv.ListenAndServeTLS("", "")) }()
	}
}

func (m *nodeMetrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	body, err := m.scrape(r.Context())
	m.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = w.Write(body)
}

type containerSample struct {
	labels   string
	cpu, mem uint64
	started  time.Time
}

// scrape reads the node's and its running containers' figures, in the
// Prometheus text format with millisecond timestamps.
func (m *nodeMetrics) scrape(ctx context.Context) ([]byte, error) {
	if m.root == "" {
		var cfg struct {
			KubeletConfig struct {
				CgroupRoot string `json:"cgroupRoot"`
			} `json:"kubeletconfig"`
		}
		if err := m.get(ctx, "/configz", &cfg); err != nil {
			return nil, err
		}
		m.root = path.Join("/", cfg.KubeletConfig.CgroupRoot)
	}
	now := time.Now()
	paths := map[string]string{} // a cgroup's name (a container's id) -> its path
	own := map[string]uint64{}
	nodeCPU := walkCPU(m.root, own, paths)
	for p, ns := range m.own {
		if _, ok := own[p]; !ok {
			m.gone += ns
		}
	}
	m.own = own
	nodeCPU += m.gone
	nodeMem, err := readUint("memory", m.root, "memory.usage_in_bytes")
	if err != nil {
		return nil, err
	}

	var samples []containerSample
	failed := 0
	var pods corev1.PodList
	if err := m.get(ctx, "/pods", &pods); err != nil {
		log.Printf("metrics: %v", err)
		failed = 1
	}
	for _, pod := range pods.Items {
		statuses := append(pod.Status.ContainerStatuses, pod.Status.EphemeralContainerStatuses...)
		for _, c := range statuses {
			_, id, _ := strings.Cut(c.ContainerID, "://")
			p, ok := paths[id]
			if c.State.Running == nil || id == "" || !ok {
				continue
			}
			cpu, err1 := readUint("cpuacct", p, "cpuacct.usage")
			mem, err2 := readUint("memory", p, "memory.usage_in_bytes")
			if err1 != nil || err2 != nil { // gone since the walk
				continue
			}
			samples = append(samples, containerSample{
				labels: fmt.Sprintf("{container=%q,namespace=%q,pod=%q}", c.Name, pod.Namespace, pod.Name),
				cpu:    cpu, mem: mem, started: c.State.Running.StartedAt.Time,
			})
		}
	}

	ts := now.UnixMilli()
	var b bytes.Buffer
	family := func(name, kind, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, kind)
	}
	family("node_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed by the node in core-seconds")
	fmt.Fprintf(&b, "node_cpu_usage_seconds_total %s %d\n", seconds(nodeCPU), ts)
	family("node_memory_working_set_bytes", "gauge", "Current working set of the node in bytes")
	fmt.Fprintf(&b, "node_memory_working_set_bytes %d %d\n", nodeMem, ts)
	family("container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed by the container in core-seconds")
	for _, s := range samples {
		fmt.Fprintf(&b, "container_cpu_usage_seconds_total%s %s %d\n", s.labels, seconds(s.cpu), ts)
	}
	family("container_memory_working_set_bytes", "gauge", "Current working set of the container in bytes")
	for _, s := range samples {
		fmt.Fprintf(&b, "container_memory_working_set_bytes%s %d %d\n", s.labels, s.mem, ts)
	}
	family("container_start_time_seconds", "gauge", "Start time of the container since unix epoch in seconds")
	for _, s := range samples {
		fmt.Fprintf(&b, "container_start_time_seconds%s %d %d\n", s.labels, s.started.Unix(), ts)
	}
	family("scrape_error", "gauge", "1 if there was an error while getting container metrics, 0 otherwise")
	fmt.Fprintf(&b, "scrape_error %d\n", failed)
	return b.Bytes(), nil
}

// walkCPU returns the CPU time (ns) of cgroup dir, noting the share each
// cgroup from dir down used itself in own, and each one's path by its name
// in paths. Children are read before their parent, which counts them.
func walkCPU(dir string, own map[string]uint64, paths map[string]string) uint64 {
	entries, _ := os.ReadDir(path.Join(cgroupFS, "cpuacct", dir))
	var children uint64
	for _, e := range entries {
		if e.IsDir() {
			p := path.Join(dir, e.Name())
			paths[e.Name()] = p
			children += walkCPU(p, own, paths)
		}
	}
	total, _ := readUint("cpuacct", dir, "cpuacct.usage")
	own[dir] = total - min(total, children)
	return max(total, children)
}

// get decodes the JSON the node's kubelet answers at what.
func (m *nodeMetrics) get(ctx context.Context, what string, into any) error {
	url := fmt.Sprintf("https://%s%s", net.JoinHostPort(m.ip, strconv.Itoa(kubeletPort)), what)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := m.kubelet.Do(req)
	if err != nil {
		return fmt.Errorf("the kubelet at %s: %w", url, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("the kubelet at %s answered %s", url, res.Status)
	}
	return json.NewDecoder(res.Body).Decode(into)
}

// readUint reads the number in file of cgroup dir of controller.
func readUint(controller, dir, file string) (uint64, error) {
	b, err := os.ReadFile(path.Join(cgroupFS, controller, dir, file))
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

func seconds(ns uint64) string {
	return strconv.FormatFloat(float64(ns)/1e9, 'f', -1, 64)
}

// selfSigned makes the certificate the metrics are served with.
func selfSigned(ips []net.IP) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "proctor-boxd metrics"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
