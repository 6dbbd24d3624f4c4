package main

import (
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/identity"
)

const certUsage = `usage: outpostctl cert <command> [flags]

commands:
  site-key -out site.key          create a site key (never overwrites); prints its public key
  issue    -site-key site.key -box-pub KEY|FILE -box-id ID -site SITE [-days 365] -out box.cert
                                  sign a box certificate
  box-pub  -data-dir DIR [-create] print a box's public key (from DIR/box.key)
  show     -cert box.cert [-site-pub KEY|FILE -site SITE]
                                  print a certificate, and verify it when a site key is given
  tls      -cert tls.crt -key tls.key [-hosts localhost,127.0.0.1] [-days 30]
                                  a self-signed certificate for https:// and wss:// tries
                                  (tls.cert_file, tls.key_file); never overwrites
`

// runCert is `outpostctl cert ...`: the site key and box certificates that let
// sibling boxes trust each other (until provisioning issues them).
func runCert(args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New(certUsage)
	}
	fs := flag.NewFlagSet("cert "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	parse := func() error {
		if err := fs.Parse(args[1:]); err != nil {
			return fmt.Errorf("cert %s: %w\n\n%s", args[0], err, certUsage)
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("cert %s: unexpected arguments %q", args[0], fs.Args())
		}
		return nil
	}
	switch args[0] {
	case "site-key":
		outPath := fs.String("out", "", "site key file to create")
		if err := parse(); err != nil {
			return err
		}
		if *outPath == "" {
			return errors.New("cert site-key: -out is required")
		}
		key, err := identity.GenerateKeyFile(*outPath)
		if err != nil {
			return fmt.Errorf("cert site-key: %w", err)
		}
		fmt.Fprintln(out, identity.EncodePublicKey(key.Public().(ed25519.PublicKey)))
		return nil

	case "issue":
		siteKey := fs.String("site-key", "", "site key file")
		boxPub := fs.String("box-pub", "", "box public key (base64) or a file holding it")
		boxID := fs.String("box-id", "", "box id")
		site := fs.String("site", "", "site id")
		days := fs.Int("days", 365, "validity in days")
		outPath := fs.String("out", "", "certificate file to write")
		if err := parse(); err != nil {
			return err
		}
		if *siteKey == "" || *boxPub == "" || *boxID == "" || *site == "" || *outPath == "" {
			return errors.New("cert issue: -site-key, -box-pub, -box-id, -site and -out are required")
		}
		if *days < 1 || *days > 3650 {
			return errors.New("cert issue: -days must be between 1 and 3650")
		}
		sk, err := identity.LoadPrivateKey(*siteKey)
		if err != nil {
			return fmt.Errorf("cert issue: %w", err)
		}
		pub, err := identity.LoadPublicKey(*boxPub)
		if err != nil {
			return fmt.Errorf("cert issue: -box-pub: %w", err)
		}
		c, err := identity.Issue(sk, pub, *boxID, *site, time.Now(), time.Duration(*days)*24*time.Hour)
		if err != nil {
			return fmt.Errorf("cert issue: %w", err)
		}
		if err := c.WriteFile(*outPath); err != nil {
			return fmt.Errorf("cert issue: %w", err)
		}
		fmt.Fprintf(out, "issued %s: box %s of site %s, valid until %s\n", *outPath, c.BoxID, c.SiteID, c.NotAfter.Format(time.RFC3339))
		return nil

	case "box-pub":
		dir := fs.String("data-dir", "", "the box's data_dir")
		create := fs.Bool("create", false, "create the box key when there is none yet")
		if err := parse(); err != nil {
			return err
		}
		if *dir == "" {
			return errors.New("cert box-pub: -data-dir is required")
		}
		var key ed25519.PrivateKey
		var err error
		if *create {
			key, _, err = identity.LoadOrCreateBoxKey(*dir)
		} else {
			key, err = identity.LoadPrivateKey(filepath.Join(*dir, identity.BoxKeyFile))
		}
		if err != nil {
			return fmt.Errorf("cert box-pub: %w", err)
		}
		fmt.Fprintln(out, identity.EncodePublicKey(key.Public().(ed25519.PublicKey)))
		return nil

	case "tls":
		certPath := fs.String("cert", "", "certificate file to create (PEM)")
		keyPath := fs.String("key", "", "private key file to create (PEM, mode 0600)")
		hosts := fs.String("hosts", "localhost,127.0.0.1,::1", "comma-separated host names and addresses the certificate names")
		days := fs.Int("days", 30, "validity in days")
		if err := parse(); err != nil {
			return err
		}
		if *certPath == "" || *keyPath == "" {
			return errors.New("cert tls: -cert and -key are required")
		}
		if *days < 1 || *days > 825 {
			return errors.New("cert tls: -days must be between 1 and 825")
		}
		c, err := selfSignedTLS(*certPath, *keyPath, strings.Split(*hosts, ","), time.Duration(*days)*24*time.Hour, time.Now())
		if err != nil {
			return fmt.Errorf("cert tls: %w", err)
		}
		fmt.Fprintf(out, "wrote %s and %s: self-signed for %s, valid until %s\n", *certPath, *keyPath, *hosts, c.NotAfter.Format(time.RFC3339))
		return nil

	case "show":
		certPath := fs.String("cert", "", "certificate file")
		sitePub := fs.String("site-pub", "", "site public key (base64) or file, to verify")
		site := fs.String("site", "", "site id, to verify")
		if err := parse(); err != nil {
			return err
		}
		c, err := identity.ReadCertificate(*certPath)
		if err != nil {
			return fmt.Errorf("cert show: %w", err)
		}
		fmt.Fprintf(out, "box:        %s\nsite:       %s\nbox key:    %s\nnot before: %s\nnot after:  %s\n",
			c.BoxID, c.SiteID, identity.EncodePublicKey(c.BoxKey), c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339))
		if *sitePub == "" {
			return nil
		}
		pub, err := identity.LoadPublicKey(*sitePub)
		if err != nil {
			return fmt.Errorf("cert show: -site-pub: %w", err)
		}
		want := *site
		if want == "" {
			want = c.SiteID
		}
		if err := c.Verify(pub, want, time.Now()); err != nil {
			return fmt.Errorf("cert show: %w", err)
		}
		fmt.Fprintln(out, "verified:   signed by the site key, in date")
		return nil
	}
	return fmt.Errorf("cert: unknown command %q\n\n%s", args[0], certUsage)
}
