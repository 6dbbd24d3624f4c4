package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCertTLS: the self-signed certificate serves https on loopback to a client
// that trusts exactly it, under each name it was made for, and is never
// overwritten.
func TestCertTLS(t *testing.T) {
	dir := t.TempDir()
	crt, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	var out bytes.Buffer
	if err := runCert([]string{"tls", "-cert", crt, "-key", key, "-hosts", "localhost,127.0.0.1"}, &out); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v, want mode 0600", st, err)
	}
	pair, err := tls.LoadX509KeyPair(crt, key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.StartTLS()
	defer srv.Close()
	pemBytes, _ := os.ReadFile(crt)
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemBytes) {
		t.Fatal("certificate is not PEM")
	}
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for _, tc := range []struct {
		name, host string
		ok         bool
	}{
		{"address", "127.0.0.1", true},
		{"name", "localhost", true},
		{"other name", "outpost.example", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &http.Client{Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: tc.host},
				DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+port)
				},
			}}
			defer c.CloseIdleConnections()
			resp, err := c.Get("https://" + net.JoinHostPort(tc.host, port) + "/")
			if !tc.ok {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("a certificate for localhost,127.0.0.1 was accepted for %s", tc.host)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "ok" {
				t.Fatalf("body %q", body)
			}
		})
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"tls", "-cert", crt, "-key", filepath.Join(dir, "other.key")}, "exists"},
		{[]string{"tls", "-cert", filepath.Join(dir, "a.crt")}, "required"},
		{[]string{"tls", "-cert", filepath.Join(dir, "b.crt"), "-key", filepath.Join(dir, "b.key"), "-days", "0"}, "-days"},
		{[]string{"tls", "-cert", filepath.Join(dir, "c.crt"), "-key", filepath.Join(dir, "c.key"), "-hosts", ""}, "host"},
	} {
		if err := runCert(tc.args, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error about %q", tc.args, err, tc.want)
		}
	}
	if again, _ := os.ReadFile(crt); !bytes.Equal(again, pemBytes) {
		t.Fatal("the certificate was overwritten")
	}
}
