package main

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"time"
)

// maxDialers bounds the connections the host may have open into the box at
// once (the API server's streams: logs -f, exec, port-forward, watches of
// aggregated APIs); each holds two goroutines and two sockets.
const maxDialers = 256

// serveTCP accepts on addr and hands each connection to handle.
func serveTCP(addr string, handle func(net.Conn)) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatalf("listen on %s: %v", addr, err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Printf("accept on %s: %v", addr, err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		go handle(c)
	}
}

// relay connects c to network/address and copies both ways until both ends are done.
func relay(c net.Conn, network, address string) {
	up, err := net.DialTimeout(network, address, 10*time.Second)
	if err != nil {
		log.Printf("relay to %s %s: %v", network, address, err)
		c.Close()
		return
	}
	splice(c, up)
}

// splice copies a<->b, half-closing each direction as it ends.
func splice(a, b net.Conn) {
	var wg sync.WaitGroup
	copyHalf := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		} else {
			_ = dst.Close()
		}
	}
	wg.Add(2)
	go copyHalf(a, b)
	go copyHalf(b, a)
	wg.Wait()
	a.Close()
	b.Close()
}

// serveDialer answers the host's requests for a connection inside the box:
// the host writes one line "host:port", proctor-boxd answers "OK" or
// "ERR <reason>" on one line and, after OK, the connection is the dialled
// one. Only TCP, only IP addresses (the box resolves no names for the host).
func serveDialer(ln net.Listener) {
	slots := make(chan struct{}, maxDialers)
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Printf("dialer accept: %v", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		select {
		case slots <- struct{}{}:
		default:
			fmt.Fprintf(c, "ERR too many connections into the box\n")
			c.Close()
			continue
		}
		go func() {
			defer func() { <-slots }()
			dialFor(c)
		}()
	}
}

func dialFor(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReaderSize(c, 512)
	line, err := r.ReadString('\n')
	if err != nil {
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	target := strings.TrimSpace(line)
	host, port, err := net.SplitHostPort(target)
	if err != nil || net.ParseIP(host) == nil || port == "" {
		fmt.Fprintf(c, "ERR %q is not an IP address and port\n", target)
		c.Close()
		return
	}
	up, err := net.DialTimeout("tcp", target, 10*time.Second)
	if err != nil {
		fmt.Fprintf(c, "ERR %v\n", err)
		c.Close()
		return
	}
	if _, err := io.WriteString(c, "OK\n"); err != nil {
		c.Close()
		up.Close()
		return
	}
	// bytes the host sent after its line (the client's first bytes) go first
	if n := r.Buffered(); n > 0 {
		early, _ := r.Peek(n)
		if _, err := up.Write(early); err != nil {
			c.Close()
			up.Close()
			return
		}
	}
	splice(c, up)
}
