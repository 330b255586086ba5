package solana

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	sol "github.com/gagliardetto/solana-go"
)

func TestParseCluster(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Cluster
		ok   bool
	}{
		{"", Devnet, true},
		{"devnet", Devnet, true},
		{"Mainnet", MainnetBeta, true},
		{"mainnet-beta", MainnetBeta, true},
		{"testnet", Testnet, true},
		{"localhost", Localnet, true},
		{"custom", Custom, true},
		{"moon", "", false},
	} {
		got, err := ParseCluster(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%q: %q, %v", tc.in, got, err)
		}
	}
	if DefaultConfig().Endpoint() != "https://api.devnet.solana.com" {
		t.Fatal("devnet is not the default")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func(c *Config)
		ok   bool
	}{
		{"default", func(c *Config) {}, true},
		{"custom url", func(c *Config) { c.Cluster, c.RPCURL = Custom, "http://127.0.0.1:8899" }, true},
		{"custom without url", func(c *Config) { c.Cluster = Custom }, false},
		{"bad url", func(c *Config) { c.RPCURL = "ftp://x" }, false},
		{"unknown cluster", func(c *Config) { c.Cluster = "moon" }, false},
		{"processed commitment", func(c *Config) { c.Commitment = "processed" }, false},
		{"zero timeout", func(c *Config) { c.ConfirmTimeout = 0 }, false},
		{"negative retries", func(c *Config) { c.Retries = -1 }, false},
	} {
		c := DefaultConfig()
		tc.f(&c)
		if err := c.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		} else if err != nil && !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v is not ErrConfig", tc.name, err)
		}
	}
}

func TestParseFormatAmount(t *testing.T) {
	for _, tc := range []struct {
		in       string
		decimals uint8
		want     uint64
		ok       bool
	}{
		{"1", 9, 1_000_000_000, true},
		{"1.5", 9, 1_500_000_000, true},
		{"0.000000001", 9, 1, true},
		{".5", 9, 500_000_000, true},
		{"007", 0, 7, true},
		{"0", 9, 0, true},
		{"18446744073.709551615", 9, math.MaxUint64, true},
		{"18446744073.709551616", 9, 0, false},
		{"0.0000000001", 9, 0, false},
		{"-1", 9, 0, false},
		{"1e9", 9, 0, false},
		{"1.", 9, 0, false},
		{"", 9, 0, false},
		{"1,5", 9, 0, false},
		{" 2 ", 6, 2_000_000, true},
	} {
		got, err := ParseAmount(tc.in, tc.decimals)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseAmount(%q, %d) = %d, %v", tc.in, tc.decimals, got, err)
		}
		if err != nil && !errors.Is(err, ErrInvalidAmount) {
			t.Errorf("%q: %v is not ErrInvalidAmount", tc.in, err)
		}
	}
	for _, tc := range []struct {
		v        uint64
		decimals uint8
		want     string
	}{
		{1_500_000_000, 9, "1.5"},
		{1, 9, "0.000000001"},
		{0, 9, "0"},
		{42, 0, "42"},
		{1_000_000, 6, "1"},
		{math.MaxUint64, 9, "18446744073.709551615"},
	} {
		if got := FormatAmount(tc.v, tc.decimals); got != tc.want {
			t.Errorf("FormatAmount(%d, %d) = %q, want %q", tc.v, tc.decimals, got, tc.want)
		}
		if back, err := ParseAmount(FormatAmount(tc.v, tc.decimals), tc.decimals); err != nil || back != tc.v {
			t.Errorf("round trip of %d: %d, %v", tc.v, back, err)
		}
	}
}

func TestTxErrorClassification(t *testing.T) {
	progs := []sol.PublicKey{sol.SystemProgramID, sol.TokenProgramID, sol.MemoProgramID}
	parse := func(s string) any {
		var v any
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name string
		err  string
		logs []string
		want error
	}{
		{"fee", `"InsufficientFundsForFee"`, nil, ErrInsufficientFunds},
		{"never funded", `"AccountNotFound"`, nil, ErrInsufficientFunds},
		{"rent", `{"InsufficientFundsForRent":{"account_index":1}}`, nil, ErrInsufficientFunds},
		{"system custom 1", `{"InstructionError":[0,{"Custom":1}]}`, nil, ErrInsufficientFunds},
		{"token custom 1", `{"InstructionError":[1,{"Custom":1}]}`, nil, ErrInsufficientFunds},
		{"memo custom 1", `{"InstructionError":[2,{"Custom":1}]}`, nil, ErrTransactionFailed},
		{"generic", `{"InstructionError":[0,"InsufficientFunds"]}`, nil, ErrInsufficientFunds},
		{"by logs", `{"InstructionError":[5,{"Custom":1}]}`, []string{"Transfer: insufficient lamports 1, need 2"}, ErrInsufficientFunds},
		{"already", `"AlreadyProcessed"`, nil, ErrAlreadyProcessed},
		{"other", `"BlockhashNotFound"`, nil, ErrTransactionFailed},
		{"invalid data", `{"InstructionError":[0,"InvalidAccountData"]}`, nil, ErrTransactionFailed},
	} {
		e := newTxError("", parse(tc.err), tc.logs, progs)
		if !errors.Is(e, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, e, tc.want)
		}
	}
}
