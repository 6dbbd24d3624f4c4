package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/outpost-ecdn/outpost/tools/demoorigin"
)

// writeSelfSigned writes a certificate for 127.0.0.1 and its key; it returns the pool
// that trusts it.
func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "outpost test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestTLSListener(t *testing.T) {
	needFFmpeg(t)
	_, originURL := startOrigin(t, demoorigin.Config{})
	dir := t.TempDir()
	certFile, keyFile, pool := writeSelfSigned(t, dir)
	cfgPath := filepath.Join(dir, "outpost.yaml")
	writeConfig(t, cfgPath, siteConfig(filepath.Join(dir, "data"), originURL,
		"tls:\n  listen: 127.0.0.1:0\n  cert_file: "+certFile+"\n  key_file: "+keyFile+"\n"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	addrs := make(chan net.Addr, 1)
	go func() { done <- run(ctx, cfgPath, io.Discard, func(_, tlsAddr net.Addr) { addrs <- tlsAddr }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	var tlsAddr net.Addr
	select {
	case tlsAddr = <-addrs:
	case err := <-done:
		t.Fatal(err)
	}
	if tlsAddr == nil {
		t.Fatal("no TLS listener")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://" + tlsAddr.String() + "/o/demo/live/master.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body) == 0 {
		t.Fatalf("https: %d, %d bytes", resp.StatusCode, len(body))
	}
	if resp.TLS == nil {
		t.Fatal("response not over TLS")
	}
}
