package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/refundq/refundq/internal/importer"
	"github.com/refundq/refundq/internal/intake"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
)

// The hostile corpus of `refundq import` sent through POST /v1/batches:
// the API and the CLI share one intake path, so every file must get the
// same batch id, the same counts and the same rejected rows (or the same
// refusal) both ways.
func TestCorpusGetsTheSameOutcomeThroughTheAPIAndTheCLI(t *testing.T) {
	h := newHarness(t)
	wants, err := filepath.Glob("../importer/testdata/hostile/*.want")
	testenv.Must(t, err)
	if len(wants) < 20 {
		t.Fatalf("only %d corpus files", len(wants))
	}
	for _, w := range wants {
		file := strings.TrimSuffix(w, ".want")
		after := afterOf(t, w)
		t.Run(filepath.Base(file), func(t *testing.T) {
			cli, cliErrs, cliErr := h.viaCLI(file, after)
			api, apiErrs, apiErr := h.viaAPI(file, after)
			if cliErr != nil || apiErr != nil {
				if cliErr == nil || apiErr == nil || !strings.Contains(apiErr.Error(), cliErr.Error()) {
					t.Fatalf("refusals differ: cli %v, api %v", cliErr, apiErr)
				}
				return
			}
			if api != cli {
				t.Errorf("outcome through the API %+v, through the CLI %+v", api, cli)
			}
			if !reflect.DeepEqual(apiErrs, cliErrs) {
				t.Errorf("rejected rows through the API %v, through the CLI %v", apiErrs, cliErrs)
			}
		})
	}
}

// outcome is what a run did, comparably.
type outcome struct {
	batchID                        string
	accepted, duplicates, rejected int
}

func afterOf(t *testing.T, want string) string {
	f, err := os.Open(want)
	testenv.Must(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "after "); ok {
			return filepath.Join(filepath.Dir(want), rest)
		}
	}
	return ""
}

func (h *harness) viaCLI(file, after string) (outcome, []string, error) {
	h.t.Helper()
	testenv.Must(h.t, h.rdb.FlushAll(context.Background()).Err())
	p := producer.NewFromClient(h.rdb, producer.WithSource("import"))
	if after != "" {
		_, err := importer.Run(context.Background(), p, importer.Options{Path: after})
		testenv.Must(h.t, err)
	}
	var errs []string
	res, err := importer.Run(context.Background(), p, importer.Options{Path: file,
		OnReject: func(e producer.RowError) { errs = append(errs, strconv.Itoa(e.Line)+" "+e.Field) }})
	if intake.IsInputError(err) {
		return outcome{}, nil, err
	}
	testenv.Must(h.t, err)
	return outcome{res.BatchID, res.Accepted, res.Duplicates, res.Rejected}, errs, nil
}

func (h *harness) viaAPI(file, after string) (outcome, []string, error) {
	h.t.Helper()
	testenv.Must(h.t, h.rdb.FlushAll(context.Background()).Err())
	if after != "" {
		h.settled(h.upload(fileReq(h.t, after)).BatchID)
	}
	ex := h.do(fileReq(h.t, file))
	if ex.status == http.StatusBadRequest {
		e := ex.apiErr(h.t)
		if e.Error.Code != codeInvalidFile {
			h.t.Fatalf("refused with %s", ex.body)
		}
		return outcome{}, nil, &intake.InputError{Reason: e.Error.Message}
	}
	ex.mustStatus(h.t, http.StatusAccepted)
	var up batchUploadView
	testenv.Must(h.t, json.Unmarshal(ex.body, &up))
	h.settled(up.BatchID)
	rep, err := h.server.store.Report(context.Background(), up.BatchID)
	testenv.Must(h.t, err)
	var errs []string
	for _, e := range h.batchErrors(up.BatchID, 1000) {
		errs = append(errs, strconv.Itoa(e.Line)+" "+e.Field)
	}
	return outcome{up.BatchID, rep.Accepted, rep.Duplicates, rep.Rejected}, errs, nil
}

func fileReq(t *testing.T, path string) req {
	b, err := os.ReadFile(path)
	testenv.Must(t, err)
	if strings.HasSuffix(path, ".jsonl") {
		return ndjsonReq("/v1/batches", string(b))
	}
	return csvReq("/v1/batches", string(b))
}
