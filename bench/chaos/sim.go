package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/testenv"
)

// simProc is `refundq sim` as a separate process: the provider must
// survive everything done to the workers and Redis, and its ledger is the
// independent witness the audit trusts.
type simProc struct {
	proc   *proc
	url    string
	faults fpsim.Faults
	http   *http.Client
}

// chaosFaults is the mix. CommitOnFault makes 5xx and timeouts
// execute the refund before failing: the hard case, where the worker is
// told "error" about a refund that happened. The latency keeps calls in
// flight, so SIGKILLs and the SIGTERM land mid-call, not only between calls.
func chaosFaults() fpsim.Faults {
	return fpsim.Faults{Rate5xx: 0.20, RateDrop: 0.10, RateTimeout: 0.05, Rate429: 0.02, CommitOnFault: true,
		Latency: 20 * time.Millisecond, LatencyJitter: 80 * time.Millisecond, HangMax: 5 * time.Second}
}

func startSim(rec *recorder, dir, bin string, txns int, prof profile, cred credential) (*simProc, error) {
	statusDelay, pf := prof.statusDelay, prof.provider
	port, err := testenv.PickPort()
	if err != nil {
		return nil, err
	}
	f := chaosFaults()
	f.StatusLagRate, f.StatusLagMax = pf.statusLagRate, pf.statusLagMax
	f.LateCommitRate, f.LateCommitRaceRate, f.LateCommitMin, f.LateCommitMax = pf.lateRate, pf.lateRaceRate, pf.lateMin, pf.lateMax
	f.ForgetRate = pf.forgetRate
	args := []string{"sim", "--addr", "127.0.0.1:" + strconv.Itoa(port), "--status-delay", statusDelay.String(),
		"--generate", strconv.Itoa(txns), "--dialect", orNative(prof.dialect)}
	env := append(cred.env(), "REFUNDQ_LOG_LEVEL=warn")
	p, err := launch(rec, "refundq sim", filepath.Join(dir, "sim.log"), bin, args, env)
	if err != nil {
		return nil, err
	}
	s := &simProc{proc: p, url: "http://127.0.0.1:" + strconv.Itoa(port), faults: f, http: &http.Client{Timeout: 30 * time.Second}}
	if !testenv.Poll(30*time.Second, 50*time.Millisecond, s.healthy) {
		return nil, errors.New("timed out after 30s waiting for the simulator's /healthz")
	}
	// The whole mix goes in through PUT /sim/faults, before any worker
	// starts, so every call sees it.
	return s, s.setDown(context.Background(), false)
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func (s *simProc) healthy() bool {
	resp, err := s.http.Get(s.url + "/healthz")
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// setDown switches the provider outage on or off, keeping the fault mix.
func (s *simProc) setDown(ctx context.Context, down bool) error {
	f := s.faults
	f.Down = down
	body, err := json.Marshal(f)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, s.url+"/sim/faults", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	_, err = s.do(req)
	return err
}

// ledger fetches the provider's book of record.
func (s *simProc) ledger(ctx context.Context) (fpsim.Ledger, error) {
	var l fpsim.Ledger
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/sim/ledger", nil)
	if err != nil {
		return l, err
	}
	body, err := s.do(req)
	if err != nil {
		return l, err
	}
	if err := json.Unmarshal(body, &l); err != nil {
		return l, fmt.Errorf("decode ledger: %w", err)
	}
	return l, nil
}

// faultCounts reads fpsim_faults_total from the simulator's metrics, to
// show the faults really happened.
func (s *simProc) faultCounts(ctx context.Context) (map[string]int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	body, err := s.do(req)
	if err != nil {
		return nil, err
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("parse sim metrics: %w", err)
	}
	out := map[string]int{}
	if fam, ok := fams["fpsim_faults_total"]; ok {
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "fault" {
					out[l.GetValue()] = int(m.GetCounter().GetValue())
				}
			}
		}
	}
	return out, nil
}

func (s *simProc) do(req *http.Request) ([]byte, error) {
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sim %s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("sim %s %s: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("sim %s %s: %s: %s", req.Method, req.URL.Path, resp.Status, bytes.TrimSpace(body))
	}
	return body, nil
}

func (s *simProc) stop() { _ = s.proc.Signal(syscall.SIGTERM, 10*time.Second) }

func orNative(d string) string {
	if d == "" {
		return "native"
	}
	return d
}
