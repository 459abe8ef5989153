// proctor-runc is an OCI runtime for dockerd that execs runc after removing,
// from the container's capability sets, every capability this host's
// capability bounding set lacks.
//
// Why: some hosts (containers, hardened VMs) run dockerd with a bounding set
// that lacks a capability such as CAP_SYS_RESOURCE. `docker run --privileged`
// asks runc for every capability, and runc then fails with "unable to apply
// caps: operation not permitted". kind starts every node privileged, so on
// such a host no node starts. A capability outside the bounding set can never
// be held anyway, so dropping it from the request changes nothing a container
// could have done.
//
// Without CAP_SYS_RESOURCE a process also cannot lower its oom_score_adj, so
// a container asking for a lower value than the wrapper's own (the kubelet
// gives critical pods -997) would fail in runc's init; the wrapper raises
// such a request to its own value, which is the lowest that can be had.
//
// On a host whose bounding set is complete the wrapper only execs runc.
//
// It rewrites <bundle>/config.json for `create` and `run`, and the --process
// file for `exec`; every other argument goes to runc untouched. Kind nodes
// use it too, as their containerd's runc, for their own privileged pods.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// capNames maps capability numbers to the names OCI bundles use (linux/capability.h).
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

func main() {
	runc := findRunc()
	missing, err := missingCaps()
	if err != nil {
		fail("reading the capability bounding set: %v", err)
	}
	if len(missing) > 0 {
		if path := specToFix(os.Args[1:]); path != "" {
			if err := dropCaps(path, missing); err != nil {
				fail("%s: %v", path, err)
			}
		}
	}
	args := append([]string{runc}, os.Args[1:]...)
	if err := syscall.Exec(runc, args, os.Environ()); err != nil {
		fail("exec %s: %v", runc, err)
	}
}

// findRunc is $PROCTOR_RUNC, else the first runc in the usual places.
func findRunc() string {
	if r := os.Getenv("PROCTOR_RUNC"); r != "" {
		return r
	}
	for _, r := range []string{"/usr/bin/runc", "/usr/sbin/runc", "/usr/local/bin/runc"} {
		if _, err := os.Stat(r); err == nil {
			return r
		}
	}
	fail("no runc in /usr/bin, /usr/sbin or /usr/local/bin (set PROCTOR_RUNC)")
	return ""
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "proctor-runc: "+format+"\n", a...)
	os.Exit(1)
}

// missingCaps lists the known capabilities not in this process's bounding set.
func missingCaps() (map[string]bool, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "CapBnd:") {
			continue
		}
		mask, err := strconv.ParseUint(strings.TrimSpace(line[len("CapBnd:"):]), 16, 64)
		if err != nil {
			return nil, err
		}
		missing := map[string]bool{}
		for i, name := range capNames {
			if mask&(1<<uint(i)) == 0 {
				missing[name] = true
			}
		}
		return missing, nil
	}
	return nil, fmt.Errorf("no CapBnd line in /proc/self/status")
}

// specToFix returns the JSON file runc will read capabilities from, or "".
// runc's global flags come before the command; command flags after it.
func specToFix(args []string) string {
	cmd, i := "", 0
	for ; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			cmd = a
			break
		}
		// global flags that take a separate value
		switch a {
		case "--root", "--log", "--log-format", "--criu", "--rootless":
			i++
		}
	}
	rest := args[min(i+1, len(args)):]
	switch cmd {
	case "create", "run":
		bundle := flagValue(rest, "--bundle", "-b")
		if bundle == "" {
			bundle = "."
		}
		return filepath.Join(bundle, "config.json")
	case "exec":
		return flagValue(rest, "--process", "-p")
	}
	return ""
}

func flagValue(args []string, long, short string) string {
	for i, a := range args {
		for _, name := range []string{long, short} {
			if a == name && i+1 < len(args) {
				return args[i+1]
			}
			if strings.HasPrefix(a, name+"=") {
				return a[len(name)+1:]
			}
		}
	}
	return ""
}

// dropCaps removes the missing capabilities from every set in a spec
// (config.json: .process.capabilities) or a process file (.capabilities).
// Other fields are kept byte-for-byte as JSON values.
func dropCaps(path string, missing map[string]bool) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return err
	}
	changed := false
	if raw, ok := doc["process"]; ok { // a bundle's config.json
		var proc map[string]json.RawMessage
		if err := json.Unmarshal(raw, &proc); err != nil {
			return err
		}
		fixed := fixCapsField(proc, missing)
		if missing["CAP_SYS_RESOURCE"] && clampOOMScoreAdj(proc) {
			fixed = true
		}
		if fixed {
			if doc["process"], err = json.Marshal(proc); err != nil {
				return err
			}
			changed = true
		}
	} else { // an exec --process file
		changed = fixCapsField(doc, missing)
	}
	if !changed {
		return nil
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp := path + ".proctor-runc"
	if err := os.WriteFile(tmp, out, info.Mode().Perm()); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func fixCapsField(proc map[string]json.RawMessage, missing map[string]bool) bool {
	raw, ok := proc["capabilities"]
	if !ok || string(raw) == "null" {
		return false
	}
	var sets map[string][]string
	if err := json.Unmarshal(raw, &sets); err != nil {
		return false
	}
	changed := false
	for name, caps := range sets {
		kept := caps[:0:0]
		for _, c := range caps {
			if missing[c] {
				changed = true
				continue
			}
			kept = append(kept, c)
		}
		sets[name] = kept
	}
	if changed {
		proc["capabilities"], _ = json.Marshal(sets)
	}
	return changed
}

// clampOOMScoreAdj raises process.oomScoreAdj to this process's own value
// when it asks for less, which only CAP_SYS_RESOURCE may grant.
func clampOOMScoreAdj(proc map[string]json.RawMessage) bool {
	raw, ok := proc["oomScoreAdj"]
	if !ok {
		return false
	}
	var want int
	if err := json.Unmarshal(raw, &want); err != nil {
		return false
	}
	data, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		return false
	}
	own, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || want >= own {
		return false
	}
	proc["oomScoreAdj"], _ = json.Marshal(own)
	return true
}
