package main

import (
	"fmt"
	"log"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

const udpIdle = 60 * time.Second

// frontend is one address a Service answers on: a ClusterIP and port, or
// the node's IP and a NodePort.
type frontend struct {
	ip    string
	port  int32
	proto corev1.Protocol
}

func (f frontend) String() string {
	return fmt.Sprintf("%s %s", f.proto, net.JoinHostPort(f.ip, strconv.Itoa(int(f.port))))
}

// target is what a frontend leads to: a Service's port, by its name.
type target struct {
	namespace, name, portName string
}

type serviceProxy struct {
	client    kubernetes.Interface
	apiAddr   string
	nodeIPs   []net.IP // the box's nodes: NodePorts listen on each
	services  corelisters.ServiceLister
	slices    discoverylisters.EndpointSliceLister
	changed   chan struct{}
	mu        sync.Mutex
	listeners map[frontend]*listener
	addresses map[string]bool // ClusterIPs put on lo
	next      atomic.Uint64
}

type listener struct {
	target target
	closer func()
}

func newServiceProxy(kubeconfig, apiAddr string, nodeIPs []net.IP) *serviceProxy {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		log.Fatalf("services: reading %s: %v", kubeconfig, err)
	}
	return &serviceProxy{
		client: kubernetes.NewForConfigOrDie(cfg), apiAddr: apiAddr, nodeIPs: nodeIPs,
		changed: make(chan struct{}, 1), listeners: map[frontend]*listener{},
		addresses: map[string]bool{},
	}
}

func (p *serviceProxy) poke() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// run watches Services and EndpointSlices and keeps a listener per frontend.
func (p *serviceProxy) run() {
	factory := informers.NewSharedInformerFactory(p.client, 10*time.Minute)
	svc := factory.Core().V1().Services()
	eps := factory.Discovery().V1().EndpointSlices()
	p.services, p.slices = svc.Lister(), eps.Lister()
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { p.poke() },
		UpdateFunc: func(any, any) { p.poke() },
		DeleteFunc: func(any) { p.poke() },
	}
	if _, err := svc.Informer().AddEventHandler(handler); err != nil {
		log.Fatalf("services: %v", err)
	}
	stop := make(chan struct{})
	factory.Start(stop)
	factory.WaitForCacheSync(stop)
	log.Printf("services: watching Services and EndpointSlices")
	for range p.changed {
		p.reconcile()
		time.Sleep(50 * time.Millisecond) // batch a burst of events
	}
}

// desired lists every frontend the Services call for.
func (p *serviceProxy) desired() map[frontend]target {
	want := map[frontend]target{}
	all, err := p.services.List(labels.Everything())
	if err != nil {
		log.Printf("services: listing: %v", err)
		return want
	}
	for _, s := range all {
		if s.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		for _, sp := range s.Spec.Ports {
			t := target{s.Namespace, s.Name, sp.Name}
			for _, ip := range s.Spec.ClusterIPs {
				if net.ParseIP(ip) != nil && ip != corev1.ClusterIPNone {
					want[frontend{ip, sp.Port, sp.Protocol}] = t
				}
			}
			if sp.NodePort != 0 {
				for _, ip := range p.nodeIPs {
					want[frontend{ip.String(), sp.NodePort, sp.Protocol}] = t
				}
			}
		}
	}
	return want
}

func (p *serviceProxy) reconcile() {
	want := p.desired()
	p.mu.Lock()
	defer p.mu.Unlock()
	for f, l := range p.listeners {
		if t, ok := want[f]; !ok || t != l.target {
			l.closer()
			delete(p.listeners, f)
		}
	}
	wantIPs := map[string]bool{}
	for f := range want {
		if !p.isNodeIP(f.ip) {
			wantIPs[f.ip] = true
		}
	}
	for ip := range wantIPs {
		if !p.addresses[ip] {
			if out, err := exec.Command("ip", "addr", "add", ip+"/32", "dev", "lo").CombinedOutput(); err != nil {
				log.Printf("services: adding %s to lo: %v: %s", ip, err, out)
			}
			p.addresses[ip] = true
		}
	}
	for f, t := range want {
		if _, ok := p.listeners[f]; ok {
			continue
		}
		closer, err := p.listen(f, t)
		if err != nil {
			log.Printf("services: %s for %s/%s: %v", f, t.namespace, t.name, err)
			continue
		}
		p.listeners[f] = &listener{t, closer}
	}
	for ip := range p.addresses {
		if !wantIPs[ip] {
			_ = exec.Command("ip", "addr", "del", ip+"/32", "dev", "lo").Run()
			delete(p.addresses, ip)
		}
	}
}

// isNodeIP: the address is a node's (on lo already, put there by the box's init).
func (p *serviceProxy) isNodeIP(ip string) bool {
	for _, n := range p.nodeIPs {
		if n.String() == ip {
			return true
		}
	}
	return false
}

// backends are the ready endpoints of a Service's port, as host:port.
func (p *serviceProxy) backends(t target) []string {
	if t.namespace == "default" && t.name == "kubernetes" {
		return []string{p.apiAddr}
	}
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: t.name})
	slices, err := p.slices.EndpointSlices(t.namespace).List(sel)
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range slices {
		var port int32
		for _, sp := range s.Ports {
			if sp.Port != nil && (sp.Name == nil && t.portName == "" || sp.Name != nil && *sp.Name == t.portName) {
				port = *sp.Port
			}
		}
		if port == 0 {
			continue
		}
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && !*e.Conditions.Ready {
				continue
			}
			for _, a := range e.Addresses {
				out = append(out, net.JoinHostPort(a, strconv.Itoa(int(port))))
			}
		}
	}
	return out
}

// pick rotates through the backends, one connection (or UDP flow) each.
func (p *serviceProxy) pick(t target) []string {
	b := p.backends(t)
	if len(b) < 2 {
		return b
	}
	n := int(p.next.Add(1) % uint64(len(b)))
	return append(b[n:], b[:n]...)
}

func (p *serviceProxy) listen(f frontend, t target) (func(), error) {
	addr := net.JoinHostPort(f.ip, strconv.Itoa(int(f.port)))
	switch f.proto {
	case corev1.ProtocolTCP, "":
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		go p.serveTCP(ln, t)
		return func() { ln.Close() }, nil
	case corev1.ProtocolUDP:
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, err
		}
		go p.serveUDP(pc, t)
		return func() { pc.Close() }, nil
	}
	return nil, fmt.Errorf("protocol %s is not proxied", f.proto)
}

func (p *serviceProxy) serveTCP(ln net.Listener, t target) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed
		}
		go func() {
			for _, b := range p.pick(t) {
				up, err := net.DialTimeout("tcp", b, 3*time.Second)
				if err == nil {
					splice(c, up)
					return
				}
			}
			c.Close() // no ready endpoint: refused, as kube-proxy's REJECT
		}()
	}
}

// serveUDP keeps one upstream socket per client address, for udpIdle after
// its last datagram, so replies (DNS answers) find their way back.
func (p *serviceProxy) serveUDP(pc net.PacketConn, t target) {
	type flow struct {
		up   net.Conn
		seen atomic.Int64
	}
	var mu sync.Mutex
	flows := map[string]*flow{}
	buf := make([]byte, 65535)
	for {
		n, client, err := pc.ReadFrom(buf)
		if err != nil {
			mu.Lock()
			for _, f := range flows {
				f.up.Close()
			}
			mu.Unlock()
			return
		}
		key := client.String()
		mu.Lock()
		f := flows[key]
		if f == nil {
			backends := p.pick(t)
			if len(backends) == 0 {
				mu.Unlock()
				continue
			}
			up, err := net.Dial("udp", backends[0])
			if err != nil {
				mu.Unlock()
				continue
			}
			f = &flow{up: up}
			flows[key] = f
			go func(f *flow, client net.Addr, key string) {
				reply := make([]byte, 65535)
				for {
					_ = f.up.SetReadDeadline(time.Now().Add(udpIdle))
					m, err := f.up.Read(reply)
					if err != nil {
						ne, timeout := err.(net.Error)
						if timeout && ne.Timeout() && time.Since(time.Unix(0, f.seen.Load())) < udpIdle {
							continue
						}
						break // idle, or the backend refused: the next datagram starts anew
					}
					_, _ = pc.WriteTo(reply[:m], client)
				}
				mu.Lock()
				delete(flows, key)
				mu.Unlock()
				f.up.Close()
			}(f, client, key)
		}
		mu.Unlock()
		f.seen.Store(time.Now().UnixNano())
		_, _ = f.up.Write(buf[:n])
	}
}
