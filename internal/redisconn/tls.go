package redisconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// tlsConfig builds the TLS settings of a rediss URL. ServerName stays empty
// on purpose: the dialer then checks each node against its own host name,
// which a fixed name could not do for sentinels or cluster nodes.
func tlsConfig(on bool, s settings) (*tls.Config, error) {
	if !on {
		if s.caFile != "" || s.certFile != "" || s.keyFile != "" {
			return nil, errors.New("redisconn: a CA file or client certificate needs a rediss URL (rediss://, rediss-sentinel://, rediss-cluster://)")
		}
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.caFile != "" {
		pool, err := loadCA(s.caFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if s.certFile != "" || s.keyFile != "" {
		if s.certFile == "" || s.keyFile == "" {
			return nil, errors.New("redisconn: a client certificate needs both the certificate and the key file")
		}
		cert, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
		if err != nil {
			return nil, fmt.Errorf("redisconn: client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func loadCA(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("redisconn: CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("redisconn: CA file %s holds no PEM certificate", path)
	}
	return pool, nil
}
