// A small libcni client for ecdock's CNI tests and benchmark: it drives plugins exactly the way
// runtimes built on libcni (Podman's CNI backend, containerd, CRI-O) do.
//
//	cni-client add|check|del CONFLIST NETNS CONTAINERID IFNAME   (CNI_ARGS, CNI_IPS, CNI_MAC from env)
//	cni-client bench CONFLIST NETNS...                          ADD then DEL on each, timings as JSON
//	                                                            (with the CPU of ECDOCK_BENCH_DAEMON_PID, when set)
//
// CNI_PATH and CNI_CACHE_DIR come from the environment. An error is printed on stdout as
// {"error": {"code": N, "msg": ..., "details": ...}} with exit status 1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
)

func fail(err error) {
	out := map[string]interface{}{}
	var e *types.Error
	if errors.As(err, &e) {
		out["error"] = map[string]interface{}{"code": e.Code, "msg": e.Msg, "details": e.Details}
	} else {
		out["error"] = map[string]interface{}{"code": -1, "msg": err.Error()}
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	os.Exit(1)
}

// childCPU is the user + system time, in ms, of all children waited for so far (plugins and what they ran).
func childCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
}

// daemonCPU is the user + system time, in ms, of the process ECDOCK_BENCH_DAEMON_PID names (the
// resident daemon that serves the calls through the forwarder), or 0 without one.
func daemonCPU() float64 {
	pid := os.Getenv("ECDOCK_BENCH_DAEMON_PID")
	if pid == "" {
		return 0
	}
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndex(s, ")")+1:])
	var ut, st float64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	return (ut + st) * 10 // USER_HZ is 100 on Linux
}

func runtimeConf(netns, id, ifname string) *libcni.RuntimeConf {
	rt := &libcni.RuntimeConf{ContainerID: id, NetNS: netns, IfName: ifname, CapabilityArgs: map[string]interface{}{}}
	for _, kv := range strings.Split(os.Getenv("CNI_ARGS"), ";") {
		if p := strings.SplitN(kv, "=", 2); len(p) == 2 {
			rt.Args = append(rt.Args, [2]string{p[0], p[1]})
		}
	}
	if ips := os.Getenv("CNI_IPS"); ips != "" {
		rt.CapabilityArgs["ips"] = strings.Split(ips, ",")
	}
	if mac := os.Getenv("CNI_MAC"); mac != "" {
		rt.CapabilityArgs["mac"] = mac
	}
	return rt
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: cni-client add|check|del CONFLIST NETNS CONTAINERID IFNAME | bench CONFLIST NETNS...")
		os.Exit(2)
	}
	list, err := libcni.ConfListFromFile(os.Args[2])
	if err != nil {
		fail(err)
	}
	cacheDir := os.Getenv("CNI_CACHE_DIR")
	if cacheDir == "" {
		cacheDir = filepath.Join(os.TempDir(), "cni-client-cache")
	}
	cni := libcni.NewCNIConfigWithCacheDir(filepath.SplitList(os.Getenv("CNI_PATH")), cacheDir, nil)
	ctx := context.Background()

	switch os.Args[1] {
	case "add", "check", "del":
		if len(os.Args) != 6 {
			fmt.Fprintln(os.Stderr, "usage: cni-client add|check|del CONFLIST NETNS CONTAINERID IFNAME")
			os.Exit(2)
		}
		rt := runtimeConf(os.Args[3], os.Args[4], os.Args[5])
		switch os.Args[1] {
		case "add":
			res, err := cni.AddNetworkList(ctx, list, rt)
			if err != nil {
				fail(err)
			}
			b, _ := json.Marshal(res)
			fmt.Println(string(b))
		case "check":
			if err := cni.CheckNetworkList(ctx, list, rt); err != nil {
				fail(err)
			}
		case "del":
			if err := cni.DelNetworkList(ctx, list, rt); err != nil {
				fail(err)
			}
		}
	case "bench":
		// Wall time per call, and the CPU time (user + system) of the plugin processes it ran:
		// on a loaded machine the second says what a call costs, the first what it waited.
		var adds, dels, addCPU, delCPU []float64
		d0 := daemonCPU()
		for i, ns := range os.Args[3:] {
			rt := runtimeConf(ns, fmt.Sprintf("bench%06d", i), "eth0")
			t, c := time.Now(), childCPU()
			if _, err := cni.AddNetworkList(ctx, list, rt); err != nil {
				fail(err)
			}
			adds = append(adds, float64(time.Since(t).Microseconds())/1000)
			addCPU = append(addCPU, childCPU()-c)
		}
		d1 := daemonCPU()
		for i, ns := range os.Args[3:] {
			rt := runtimeConf(ns, fmt.Sprintf("bench%06d", i), "eth0")
			t, c := time.Now(), childCPU()
			if err := cni.DelNetworkList(ctx, list, rt); err != nil {
				fail(err)
			}
			dels = append(dels, float64(time.Since(t).Microseconds())/1000)
			delCPU = append(delCPU, childCPU()-c)
		}
		d2 := daemonCPU()
		// The daemon's CPU over all ADDs and over all DELs (its clock ticks are too coarse per call).
		b, _ := json.Marshal(map[string][]float64{"add": adds, "del": dels, "addCpu": addCPU, "delCpu": delCPU, "daemonCpu": {d1 - d0, d2 - d1}})
		fmt.Println(string(b))
	default:
		fmt.Fprintln(os.Stderr, "unknown command", os.Args[1])
		os.Exit(2)
	}
}
