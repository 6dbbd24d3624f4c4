// Package bench runs edge caches side by side on loopback and compares them.
//
// In: paths to the binaries under test (outpostd, nginx, the demo origin, wrk) and the
// parameters of a run. Out: an nginx configuration for the best hand-built HLS cache in
// front of the demo origin (RenderNginx), child processes that are always stopped by
// PID (Process), resident-memory samples of a process tree (RSSSampler), parsed wrk
// results (ParseWrk), and Markdown comparison tables (Table).
//
// Everything listens on 127.0.0.1 or ::1 only. The harness that wires these together is
// tools/cmd/bench-edge.
//
// # Usage
//
//	conf, err := bench.RenderNginx(bench.NginxConfig{
//		Prefix: dir, Listen: "127.0.0.1:8090", Origin: "127.0.0.1:8081",
//	})
//	if err != nil {
//		return err
//	}
//	ng, err := bench.StartNginx("/usr/sbin/nginx", dir, conf)
//	if err != nil {
//		return err
//	}
//	defer ng.Stop(5 * time.Second)
package bench
