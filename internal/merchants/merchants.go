// Package merchants loads the named merchant credentials a worker signs
// Card API calls with. The file holds names, auth_ids and where each secret
// lives (an environment variable or a file), never a secret itself:
//
//	merchants:
//	  default:
//	    auth_id: "123456"
//	    secret_env: FREEDOMPAY_SECRET_DEFAULT
//	    callback_secret_file: /run/secrets/callback-default
//	    rate_limit: 20
//	    profile: freedompay-prod.yaml   # optional: this merchant's reply vocabulary
//
// A refund names its merchant; only this package ever sees the secrets, and
// it hands them on as freedompay.Secret, which prints as [redacted].
package merchants

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/refund"
)

// Merchant is one named credential.
type Merchant struct {
	Name   string
	AuthID string
	Secret freedompay.Secret
	// CallbackSecret signs the merchant's callbacks; empty means the
	// merchant gets none.
	CallbackSecret freedompay.Secret
	// RateLimit is the merchant's provider calls per second; 0 means the
	// worker's default.
	RateLimit int
	// ProfileFile is the merchant's provider profile (a YAML file, checked
	// when the merchants file is loaded); empty means the deployment's
	// (see ProfileFile).
	ProfileFile string
}

// Set is the merchants a worker serves, by name. It is read-only after
// Load or New, so it is safe for concurrent use.
type Set struct {
	byName map[string]Merchant
}

// file is the YAML layout. Unknown keys are an error, so a misspelt
// secret_env, or a secret pasted in as "secret:", is refused loudly.
type file struct {
	Merchants map[string]entry `yaml:"merchants"`
}

type entry struct {
	AuthID             string `yaml:"auth_id"`
	SecretEnv          string `yaml:"secret_env"`
	SecretFile         string `yaml:"secret_file"`
	CallbackSecretEnv  string `yaml:"callback_secret_env"`
	CallbackSecretFile string `yaml:"callback_secret_file"`
	RateLimit          int    `yaml:"rate_limit"`
	Profile            string `yaml:"profile"`
}

// Load reads the merchants file at path. Secrets come from the environment
// through getenv, or from files; a relative secret file is relative to the
// merchants file. Errors name the merchant, variable or file, never a value.
func Load(path string, getenv func(string) string) (*Set, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("merchants: %w", err)
	}
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("merchants: %s: %w", path, err)
	}
	if len(f.Merchants) == 0 {
		return nil, fmt.Errorf("merchants: %s: no merchants under \"merchants:\"", path)
	}
	r := resolver{dir: filepath.Dir(path), getenv: getenv}
	ms := make([]Merchant, 0, len(f.Merchants))
	for name, e := range f.Merchants {
		m, err := r.merchant(name, e)
		if err != nil {
			return nil, fmt.Errorf("merchants: %s: merchant %q: %w", path, name, err)
		}
		ms = append(ms, m)
	}
	return New(ms...)
}

// New builds a Set from merchants given directly, e.g. the single
// REFUNDQ_AUTH_ID/REFUNDQ_SECRET credential.
func New(ms ...Merchant) (*Set, error) {
	s := &Set{byName: make(map[string]Merchant, len(ms))}
	for _, m := range ms {
		switch {
		case !refund.ValidMerchant(m.Name):
			return nil, fmt.Errorf("merchants: name %q must be 1-32 characters of a-z, 0-9, '_' or '-'", m.Name)
		case m.AuthID == "" || m.Secret == "":
			return nil, fmt.Errorf("merchants: merchant %q needs an auth_id and a secret", m.Name)
		case m.RateLimit < 0:
			return nil, fmt.Errorf("merchants: merchant %q: rate_limit must not be negative", m.Name)
		}
		if _, dup := s.byName[m.Name]; dup {
			return nil, fmt.Errorf("merchants: merchant %q is defined twice", m.Name)
		}
		s.byName[m.Name] = m
	}
	return s, nil
}

// String lists the names only. Without it fmt would print the secrets of
// the unexported map, where freedompay.Secret's own redaction cannot apply.
func (s Set) String() string { return "merchants" + fmt.Sprint(s.Names()) }

// GoString is String, for %#v.
func (s Set) GoString() string { return s.String() }

// Names lists the merchants, sorted.
func (s *Set) Names() []string {
	names := make([]string, 0, len(s.byName))
	for n := range s.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Get returns the named merchant.
func (s *Set) Get(name string) (Merchant, bool) {
	m, ok := s.byName[name]
	return m, ok
}

// CallbackSecret returns the key that signs the merchant's callbacks; ok is
// false when the merchant is unknown or has none.
func (s *Set) CallbackSecret(name string) (secret []byte, ok bool) {
	m, found := s.byName[name]
	if !found || m.CallbackSecret == "" {
		return nil, false
	}
	return []byte(m.CallbackSecret), true
}

// RateLimit returns the merchant's calls per second, or def when the
// merchant sets none.
func (s *Set) RateLimit(name string, def int) int {
	if m, ok := s.byName[name]; ok && m.RateLimit > 0 {
		return m.RateLimit
	}
	return def
}

// ProfileFile is the provider profile the named merchant's replies are
// classified by: its own, or else def (empty: the shipped default). The
// worker's clients and the operator's follow this one rule, so an operator
// reconcile reads a reply exactly as the worker would.
func (s *Set) ProfileFile(name, def string) string {
	if m, ok := s.byName[name]; ok && m.ProfileFile != "" {
		return m.ProfileFile
	}
	return def
}

// Clients builds one Card API client per merchant. They share hc, and with
// it the connection pool: every merchant talks to the same provider host.
// Each classifies replies by the profile ProfileFile names for it.
func (s *Set) Clients(baseURL string, hc *http.Client, defProfile string) (map[string]*freedompay.Client, error) {
	if hc == nil {
		hc = freedompay.NewHTTPClient()
	}
	out := make(map[string]*freedompay.Client, len(s.byName))
	for name, m := range s.byName {
		opts := []freedompay.Option{freedompay.WithBaseURL(baseURL), freedompay.WithHTTPClient(hc)}
		if f := s.ProfileFile(name, defProfile); f != "" {
			p, err := freedompay.LoadProfile(f)
			if err != nil {
				return nil, fmt.Errorf("merchants: merchant %q: %w", name, err)
			}
			opts = append(opts, freedompay.WithProfile(p))
		}
		c, err := freedompay.New(freedompay.Credential{AuthID: m.AuthID, Secret: m.Secret}, opts...)
		if err != nil {
			return nil, fmt.Errorf("merchants: merchant %q: %w", name, err)
		}
		out[name] = c
	}
	return out, nil
}

// resolver turns an entry's secret references into secrets.
type resolver struct {
	dir    string
	getenv func(string) string
}

func (r resolver) merchant(name string, e entry) (Merchant, error) {
	if e.AuthID == "" {
		return Merchant{}, errors.New("auth_id is required")
	}
	secret, err := r.secret("secret", e.SecretEnv, e.SecretFile, true)
	if err != nil {
		return Merchant{}, err
	}
	cb, err := r.secret("callback_secret", e.CallbackSecretEnv, e.CallbackSecretFile, false)
	if err != nil {
		return Merchant{}, err
	}
	m := Merchant{Name: name, AuthID: e.AuthID, Secret: secret, CallbackSecret: cb, RateLimit: e.RateLimit}
	if e.Profile != "" {
		path := e.Profile
		if !filepath.IsAbs(path) {
			path = filepath.Join(r.dir, path)
		}
		if _, err := freedompay.LoadProfile(path); err != nil {
			return Merchant{}, err
		}
		m.ProfileFile = path
	}
	return m, nil
}

// envName is what an environment variable name looks like. Checking it
// stops a secret pasted into secret_env from being echoed in an error.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// secret reads the secret that key_env or key_file points at.
func (r resolver) secret(key, env, path string, required bool) (freedompay.Secret, error) {
	switch {
	case env != "" && path != "":
		return "", fmt.Errorf("set %s_env or %s_file, not both", key, key)
	case env != "":
		if !envName.MatchString(env) {
			return "", fmt.Errorf("%s_env must name an environment variable (letters, digits, '_'), not hold the secret", key)
		}
		v := strings.TrimSpace(r.getenv(env))
		if v == "" {
			return "", fmt.Errorf("%s_env: environment variable %s is empty or not set", key, env)
		}
		return freedompay.Secret(v), nil
	case path != "":
		if !filepath.IsAbs(path) {
			path = filepath.Join(r.dir, path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("%s_file: %w", key, err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("%s_file: %s is empty", key, path)
		}
		return freedompay.Secret(v), nil
	case required:
		return "", fmt.Errorf("set %s_env or %s_file", key, key)
	}
	return "", nil
}
