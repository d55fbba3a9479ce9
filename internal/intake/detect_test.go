package intake

import "testing"

func TestDetect(t *testing.T) {
	tests := []struct {
		name string
		peek string
		want Format
	}{
		{"refunds.csv", `{"looks":"like json"}`, CSV},
		{"REFUNDS.CSV", "", CSV},
		{"refunds.jsonl", "order_id,amount", JSONL},
		{"refunds.ndjson", "", JSONL},
		{"refunds.JSON", "", JSONL},
		{"/tmp/dir.csv/refunds.jsonl", "", JSONL},
		{"upload", `{"order_id":"A1"}`, JSONL},
		{"", "\ufeff \r\n\t{\"order_id\":\"A1\"}", JSONL},
		{"refunds.txt", "order_id,amount\n", CSV},
		{"", "\ufefforder_id;amount", CSV},
		{"", "", CSV},
		{"stdin", "   ", CSV},
	}
	for _, tt := range tests {
		if got := Detect(tt.name, []byte(tt.peek)); got != tt.want {
			t.Errorf("Detect(%q, %q) = %v, want %v", tt.name, tt.peek, got, tt.want)
		}
	}
	if CSV.String() != "csv" || JSONL.String() != "jsonl" || Format(9).String() != "Format(9)" {
		t.Error("unexpected Format names")
	}
}

func TestCheckTextAllowsACharacterCutByThePeek(t *testing.T) {
	line := []byte("order_id,description\nA1,Ж")
	if err := checkText(line[:len(line)-1]); err != nil {
		t.Errorf("a peek ending inside a character: %v", err)
	}
	if err := checkText([]byte("order_id\xff,x\n")); !IsInputError(err) {
		t.Errorf("invalid UTF-8: %v", err)
	}
}
