package solana

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Cluster names a Solana cluster.
type Cluster string

// Clusters the wallet knows. Custom means "whatever RPCURL points at".
const (
	Devnet      Cluster = "devnet"
	MainnetBeta Cluster = "mainnet-beta"
	Testnet     Cluster = "testnet"
	Localnet    Cluster = "localnet"
	Custom      Cluster = "custom"
)

// ParseCluster accepts a cluster name ("mainnet" is an alias of mainnet-beta,
// "localhost" of localnet).
func ParseCluster(s string) (Cluster, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "devnet":
		return Devnet, nil
	case "mainnet-beta", "mainnet":
		return MainnetBeta, nil
	case "testnet":
		return Testnet, nil
	case "localnet", "localhost", "local":
		return Localnet, nil
	case "custom":
		return Custom, nil
	}
	return "", fmt.Errorf("%w: unknown cluster %q (want devnet, mainnet-beta, testnet, localnet or custom)", ErrConfig, s)
}

// DefaultURL is the public RPC endpoint of the cluster ("" for Custom).
func (c Cluster) DefaultURL() string {
	switch c {
	case Devnet:
		return "https://api.devnet.solana.com"
	case MainnetBeta:
		return "https://api.mainnet-beta.solana.com"
	case Testnet:
		return "https://api.testnet.solana.com"
	case Localnet:
		return "http://127.0.0.1:8899"
	}
	return ""
}

// AllowsAirdrop reports whether the cluster can hand out free SOL.
func (c Cluster) AllowsAirdrop() bool { return c != MainnetBeta }

// Config configures a Client.
type Config struct {
	Cluster Cluster
	// RPCURL overrides the cluster's public endpoint.
	RPCURL string
	// Commitment for reads and confirmation: "confirmed" or "finalized".
	Commitment string
	// RequestTimeout bounds one RPC call.
	RequestTimeout time.Duration
	// Retries is how many more times a call that failed in transport is tried.
	Retries int
	// RetryBackoff is the pause before the first retry; it doubles after each.
	RetryBackoff time.Duration
	// ConfirmTimeout bounds waiting for a sent transaction to confirm.
	ConfirmTimeout time.Duration
	// PollInterval is how often confirmation polls signature status.
	PollInterval time.Duration
	// RebroadcastInterval is how often an unconfirmed transaction is re-sent
	// while its blockhash is valid.
	RebroadcastInterval time.Duration
}

// DefaultConfig is devnet with timeouts suited to public RPC nodes.
func DefaultConfig() Config {
	return Config{
		Cluster:             Devnet,
		Commitment:          "confirmed",
		RequestTimeout:      20 * time.Second,
		Retries:             2,
		RetryBackoff:        250 * time.Millisecond,
		ConfirmTimeout:      90 * time.Second,
		PollInterval:        500 * time.Millisecond,
		RebroadcastInterval: 2 * time.Second,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if _, err := ParseCluster(string(c.Cluster)); err != nil {
		return err
	}
	if c.Cluster == Custom && c.RPCURL == "" {
		return fmt.Errorf("%w: cluster custom needs an RPC URL", ErrConfig)
	}
	if c.RPCURL != "" {
		u, err := url.Parse(c.RPCURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: RPC URL %q is not an http(s) URL", ErrConfig, c.RPCURL)
		}
	}
	switch c.Commitment {
	case "confirmed", "finalized":
	default:
		return fmt.Errorf("%w: commitment %q (want confirmed or finalized)", ErrConfig, c.Commitment)
	}
	switch {
	case c.RequestTimeout <= 0, c.ConfirmTimeout <= 0, c.PollInterval <= 0, c.RebroadcastInterval <= 0:
		return fmt.Errorf("%w: timeouts and intervals must be positive", ErrConfig)
	case c.Retries < 0 || c.Retries > 10:
		return fmt.Errorf("%w: retries %d outside [0,10]", ErrConfig, c.Retries)
	case c.RetryBackoff < 0:
		return fmt.Errorf("%w: negative retry backoff", ErrConfig)
	}
	return nil
}

// Endpoint is the RPC URL the client talks to.
func (c Config) Endpoint() string {
	if c.RPCURL != "" {
		return c.RPCURL
	}
	return c.Cluster.DefaultURL()
}
