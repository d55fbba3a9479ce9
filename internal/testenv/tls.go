package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TLSFiles are PEM files of a throwaway CA, a server certificate for
// 127.0.0.1 and localhost, and a client certificate, all signed by the CA.
type TLSFiles struct {
	CA, Cert, Key, ClientCert, ClientKey string
}

// WriteTLSFiles creates the files in a temporary directory.
func WriteTLSFiles(t testing.TB) TLSFiles {
	t.Helper()
	dir := t.TempDir()
	caKey, caCert := newCert(t, nil, nil, &x509.Certificate{
		Subject: pkix.Name{CommonName: "refundq test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	})
	srvKey, srvCert := newCert(t, caKey, caCert, &x509.Certificate{
		Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	})
	cliKey, cliCert := newCert(t, caKey, caCert, &x509.Certificate{
		Subject: pkix.Name{CommonName: "refundq"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	})
	f := TLSFiles{
		CA: filepath.Join(dir, "ca.crt"), Cert: filepath.Join(dir, "redis.crt"), Key: filepath.Join(dir, "redis.key"),
		ClientCert: filepath.Join(dir, "client.crt"), ClientKey: filepath.Join(dir, "client.key"),
	}
	writePEM(t, f.CA, "CERTIFICATE", caCert.Raw)
	writePEM(t, f.Cert, "CERTIFICATE", srvCert.Raw)
	writePEM(t, f.Key, "PRIVATE KEY", marshalKey(t, srvKey))
	writePEM(t, f.ClientCert, "CERTIFICATE", cliCert.Raw)
	writePEM(t, f.ClientKey, "PRIVATE KEY", marshalKey(t, cliKey))
	return f
}

// WithTLS serves TLS on tlsPort next to the plain port, and requires client
// certificates when clientAuth is set.
func WithTLS(f TLSFiles, tlsPort int, clientAuth bool) RedisOption {
	auth := "no"
	if clientAuth {
		auth = "yes"
	}
	return WithArgs("--tls-port", strconv.Itoa(tlsPort), "--tls-cert-file", f.Cert, "--tls-key-file", f.Key,
		"--tls-ca-cert-file", f.CA, "--tls-auth-clients", auth)
}

func newCert(t testing.TB, parentKey *ecdsa.PrivateKey, parent, tmpl *x509.Certificate) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Must(t, err)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	Must(t, err)
	tmpl.SerialNumber = serial
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	signer, issuer := key, tmpl
	if parent != nil {
		signer, issuer = parentKey, parent
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, &key.PublicKey, signer)
	Must(t, err)
	cert, err := x509.ParseCertificate(der)
	Must(t, err)
	return key, cert
}

func marshalKey(t testing.TB, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	b, err := x509.MarshalPKCS8PrivateKey(k)
	Must(t, err)
	return b
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	Must(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
}
