package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func TestOpenAPICommand(t *testing.T) {
	for _, d := range []string{"espocrm", "infolobby", "mediapocket", "nimblex", "transactionlink"} {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"openapi", "--dialect", d}, &stdout, &stderr); code != 0 {
			t.Fatalf("%s: exit %d: %s", d, code, stderr.String())
		}
		if got := gjson.GetBytes(stdout.Bytes(), "openapi").String(); got != "3.1.0" || !gjson.ValidBytes(stdout.Bytes()) {
			t.Errorf("%s: openapi %q, valid JSON %v", d, got, gjson.ValidBytes(stdout.Bytes()))
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"openapi", "--dialect", "klingon"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "want one of espocrm") {
		t.Errorf("an unknown dialect: exit %d, %s", code, stderr.String())
	}
}
