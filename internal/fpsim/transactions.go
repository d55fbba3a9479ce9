package fpsim

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// Transaction is an earlier card transaction the simulator can refund. The
// real provider knows these from its own processing; the simulator has to be
// told about them (Config.Transactions, AddTransactions, POST /sim/transactions).
type Transaction struct {
	// TransactionID is Freedom Processing's id of the transaction.
	TransactionID string
	// OrderID is the id of the transaction in the partner's system.
	OrderID string
	// Amount is the original (cleared) amount, the cap for all refunds of it.
	Amount decimal.Decimal
	// Decline makes every refund of this transaction be accepted (request
	// status "process") and then end in request_status "error", the way a
	// refund the issuer later refuses would look.
	Decline bool
	// AuthID is the merchant the transaction belongs to. Empty gives every
	// configured merchant its own copy (see the package doc).
	AuthID string
}

// transactionJSON is the wire shape of a Transaction. Amount stays raw so it
// goes through parseAmount (text, bounded) rather than a float or an
// unbounded decimal parse.
type transactionJSON struct {
	TransactionID string          `json:"transaction_id"`
	OrderID       string          `json:"order_id"`
	Amount        json.RawMessage `json:"amount"`
	Decline       bool            `json:"decline,omitempty"`
	AuthID        string          `json:"auth_id,omitempty"`
}

// MarshalJSON writes the amount as a two-place decimal string, the same as
// the ledger, so a marshalled list loads back unchanged.
func (t Transaction) MarshalJSON() ([]byte, error) {
	amount, err := json.Marshal(money(t.Amount))
	if err != nil {
		return nil, fmt.Errorf("fpsim: marshal amount: %w", err)
	}
	return json.Marshal(transactionJSON{t.TransactionID, t.OrderID, amount, t.Decline, t.AuthID})
}

// UnmarshalJSON accepts the amount as a JSON number or a decimal string, and
// rejects anything that is not a positive amount with at most two decimals.
func (t *Transaction) UnmarshalJSON(b []byte) error {
	var w transactionJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("fpsim: transaction: %w", err)
	}
	text := strings.TrimSpace(string(w.Amount))
	if s, err := strconv.Unquote(text); err == nil && strings.HasPrefix(text, `"`) {
		text = s
	}
	amount, err := parseAmount(text)
	if err != nil {
		return fmt.Errorf("fpsim: transaction %q: %w", w.TransactionID, err)
	}
	*t = Transaction{TransactionID: w.TransactionID, OrderID: w.OrderID, Amount: amount, Decline: w.Decline, AuthID: w.AuthID}
	return nil
}

// GenerateTransactions returns n transactions of the given amount with
// deterministic ids ("txn-000001"/"order-000001", …) so benchmarks, the demo
// and the worker's tests can agree on ids without sharing a file.
func GenerateTransactions(n int, amount decimal.Decimal) []Transaction {
	out := make([]Transaction, 0, max(n, 0))
	for i := 1; i <= n; i++ {
		out = append(out, Transaction{
			TransactionID: fmt.Sprintf("txn-%06d", i),
			OrderID:       fmt.Sprintf("order-%06d", i),
			Amount:        amount,
		})
	}
	return out
}

// LoadTransactions reads transactions from a file: either a JSON array of
// {"transaction_id","order_id","amount","decline","auth_id"} objects or a
// CSV with a header row naming the columns transaction_id, order_id, amount
// and, optionally, decline and auth_id.
func LoadTransactions(path string) ([]Transaction, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fpsim: load transactions: %w", err)
	}
	txns, err := ParseTransactions(data)
	if err != nil {
		return nil, fmt.Errorf("fpsim: load transactions from %s: %w", path, err)
	}
	return txns, nil
}

// ParseTransactions decodes a transaction list in either format accepted by
// LoadTransactions, telling them apart by the first non-blank byte ('['
// means JSON). Every transaction needs a transaction_id, and ids must be
// unique per merchant within one list.
func ParseTransactions(data []byte) ([]Transaction, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // spreadsheet BOM
	trimmed := bytes.TrimSpace(data)
	var (
		txns []Transaction
		err  error
	)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		err = json.Unmarshal(trimmed, &txns)
		if err != nil {
			err = fmt.Errorf("json: %w", err)
		}
	} else {
		txns, err = parseCSV(data)
	}
	if err != nil {
		return nil, err
	}
	seen := make(map[merchantKey]bool, len(txns))
	for i, t := range txns {
		if t.TransactionID == "" {
			return nil, fmt.Errorf("transaction %d: missing transaction_id", i+1)
		}
		key := merchantKey{t.AuthID, t.TransactionID}
		if seen[key] {
			return nil, fmt.Errorf("transaction %d: duplicate transaction_id %q", i+1, t.TransactionID)
		}
		seen[key] = true
	}
	return txns, nil
}

// parseCSV reads the CSV form. Columns are found by header name so extra
// columns (e.g. a currency a spreadsheet export adds) are ignored.
func parseCSV(data []byte) ([]Transaction, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.TrimLeadingSpace = true
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("csv: empty input, want a header row")
	}
	if err != nil {
		return nil, fmt.Errorf("csv header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, need := range []string{"transaction_id", "order_id", "amount"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("csv header %q: missing column %q", strings.Join(header, ","), need)
		}
	}
	field := func(rec []string, name string) string {
		i, ok := col[name]
		if !ok || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	var out []Transaction
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("csv: %w", err)
		}
		line, _ := r.FieldPos(0)
		amount, err := parseAmount(field(rec, "amount"))
		if err != nil {
			return nil, fmt.Errorf("csv line %d: %w", line, err)
		}
		t := Transaction{TransactionID: field(rec, "transaction_id"), OrderID: field(rec, "order_id"), Amount: amount,
			AuthID: field(rec, "auth_id")}
		if d := field(rec, "decline"); d != "" {
			if t.Decline, err = strconv.ParseBool(d); err != nil {
				return nil, fmt.Errorf("csv line %d: decline %q: %w", line, d, err)
			}
		}
		out = append(out, t)
	}
}
