package callback

import (
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	secret := []byte("merchant-callback-secret")
	now := time.Unix(1_767_225_600, 0)
	body := []byte(`{"request_id":"r1","state":"succeeded"}`)
	ts := strconv.FormatInt(now.Unix(), 10)
	valid := Sign(secret, now.Unix(), body)
	hdr := func(ts, sig string) http.Header {
		h := http.Header{}
		h.Set(TimestampHeader, ts)
		h.Set(SignatureHeader, sig)
		return h
	}
	for _, tc := range []struct {
		name   string
		secret []byte
		header http.Header
		body   []byte
		now    time.Time
		ok     bool
	}{
		{"valid", secret, hdr(ts, "v1="+valid), body, now, true},
		{"one of several signatures", secret, hdr(ts, "v1=00ff, v1="+valid), body, now, true},
		{"within tolerance", secret, hdr(ts, "v1="+valid), body, now.Add(4 * time.Minute), true},
		{"altered body", secret, hdr(ts, "v1="+valid), append([]byte(nil), body[:len(body)-2]...), now, false},
		{"other secret", []byte("another"), hdr(ts, "v1="+valid), body, now, false},
		{"replayed late", secret, hdr(ts, "v1="+valid), body, now.Add(6 * time.Minute), false},
		{"from the future", secret, hdr(ts, "v1="+valid), body, now.Add(-6 * time.Minute), false},
		{"timestamp moved", secret, hdr(strconv.FormatInt(now.Unix()+1, 10), "v1="+valid), body, now, false},
		{"no timestamp", secret, hdr("", "v1="+valid), body, now, false},
		{"no signature", secret, hdr(ts, ""), body, now, false},
		{"unknown scheme", secret, hdr(ts, "v0="+valid), body, now, false},
		{"no secret", nil, hdr(ts, "v1="+valid), body, now, false},
	} {
		err := Verify(tc.secret, tc.header, tc.body, tc.now, 5*time.Minute)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// A merchant's receiver that imports this package pulls in nothing but the
// standard library.
func TestImportsOnlyTheStandardLibrary(t *testing.T) {
	pkgs, err := parser.ParseDir(token.NewFileSet(), ".", func(fi fs.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		for name, f := range p.Files {
			for _, imp := range f.Imports {
				path := strings.Trim(imp.Path.Value, `"`)
				if first, _, _ := strings.Cut(path, "/"); strings.Contains(first, ".") {
					t.Errorf("%s imports %s", name, path)
				}
			}
		}
	}
}
