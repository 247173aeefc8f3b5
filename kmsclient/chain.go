package kmsclient

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aliyun/credentials-go/credentials/providers"
)

// This file adapts github.com/aliyun/credentials-go, the library Alibaba
// maintains for credential sources, to [CredentialsProvider]. No type of it
// appears in kmsclient's API.

// ChainOptions adjusts [CredentialsChain]. The zero value is what
// [DefaultCredentials] uses.
type ChainOptions struct {
	// STSEndpoint is the STS host[:port] at which the OIDC (RRSA) source
	// assumes its role, over HTTPS (credentials-go always uses HTTPS).
	// Empty means sts[-vpc].<STSRegion>.aliyuncs.com (see STSRegion and
	// VPC), or sts.aliyuncs.com when no region is known. Role profiles in
	// the configuration files carry their own sts_region and enable_vpc
	// settings and do not use it.
	STSEndpoint string

	// STSRegion selects the regional STS endpoint when STSEndpoint is
	// empty. Empty means the environment variable ALIBABA_CLOUD_STS_REGION.
	STSRegion string

	// VPC selects the VPC STS endpoint (sts-vpc.<region>.aliyuncs.com) when
	// STSEndpoint is empty and a region is known. False means the
	// environment variable ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED=true decides.
	VPC bool
}

// chainHooks are test seams: credentials-go reaches the instance metadata
// service at the fixed address 100.100.100.200, and its HttpOptions.Proxy
// is how tests point that traffic at a loopback fake.
type chainHooks struct {
	imds *providers.HttpOptions // for the ECS RAM role source only
}

// CredentialsChain returns a provider that looks for credentials in these
// sources, in this order (the order of credentials-go's default chain):
//
//  1. the environment: ALIBABA_CLOUD_ACCESS_KEY_ID,
//     ALIBABA_CLOUD_ACCESS_KEY_SECRET and, for STS credentials,
//     ALIBABA_CLOUD_SECURITY_TOKEN;
//  2. OIDC role assumption (ACK RRSA): ALIBABA_CLOUD_OIDC_PROVIDER_ARN,
//     ALIBABA_CLOUD_ROLE_ARN and ALIBABA_CLOUD_OIDC_TOKEN_FILE (or
//     ALIBABA_CLOUD_OIDC_TOKEN), with ALIBABA_CLOUD_ROLE_SESSION_NAME
//     optional, through STS at opts' endpoint;
//  3. the configuration files: the aliyun CLI's (ALIBABA_CLOUD_CONFIG_FILE,
//     else ~/.aliyun/config.json, unless
//     ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true), then the credentials file
//     (ALIBABA_CLOUD_CREDENTIALS_FILE, else ~/.alibabacloud/credentials),
//     with the profile ALIBABA_CLOUD_PROFILE names (else the CLI's current
//     profile, or "default");
//  4. the RAM role of the ECS instance, from instance metadata with IMDSv2
//     session tokens (IMDSv1 as a fallback unless
//     ALIBABA_CLOUD_IMDSV1_DISABLED=true; the role from
//     ALIBABA_CLOUD_ECS_METADATA or the metadata service; none of it when
//     ALIBABA_CLOUD_ECS_METADATA_DISABLED=true);
//  5. a credentials URI: ALIBABA_CLOUD_CREDENTIALS_URI.
//
// Unlike the SDK's chains, which after one walk in which every source
// failed ask only the last source ever after, this chain reads the
// environment and walks again on the next call until a source succeeds, so
// a process started before its token file or credentials are mounted
// recovers. Two choices err toward denial rather than toward another
// identity: a source that is configured (its variables are set or its file
// exists) and fails ends the walk with its error, instead of handing over
// to a later source such as the instance's own role; and once a source has
// succeeded the chain keeps it (and its cached session) for good,
// reporting its later failures rather than switching identity. Only the
// instance metadata probe without a configured role name is passed over
// when it fails.
//
// Session credentials (OIDC, role profiles, ECS, URI) are cached by their
// source and renewed when they are within three minutes of expiry, on the
// next call, which waits for the renewal or for its context, whichever ends
// first. The provider is safe for concurrent use: one fetch runs at a time
// and concurrent callers share it.
func CredentialsChain(opts ChainOptions) CredentialsProvider {
	return newChain(opts, chainHooks{})
}

func newChain(opts ChainOptions, hooks chainHooks) CredentialsProvider {
	ch := &chain{opts: opts, hooks: hooks}
	return &asyncProvider{fetch: ch.fetch}
}

// chain is the state of one CredentialsChain. fetch is only ever run by
// its asyncProvider, one at a time; mu makes that independent of it.
type chain struct {
	opts  ChainOptions
	hooks chainHooks

	mu     sync.Mutex // guards chosen
	chosen *chainSource
}

// chainSource is one source of a walk.
type chainSource struct {
	name string
	p    providers.CredentialsProvider
	// decisive: the source is configured, so its failure ends the walk.
	decisive bool
	// buildErr, when set, is why a configured source could not be built.
	buildErr error
	// next, when set, is tried if p fails in a way handOver accepts (the
	// credentials file after the CLI's, when the CLI's file lacks the
	// profile); the pair is decisive only as a whole.
	next     *chainSource
	handOver func(error) bool
}

func (ch *chain) fetch() (Credentials, error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.chosen != nil {
		c, err := vendorGet(ch.chosen.p)
		if err != nil {
			return Credentials{}, &CredentialsError{Err: fmt.Errorf("%s: %s", ch.chosen.name, credentialsErrorText(err))}
		}
		return c, nil
	}
	var failed []string
	for _, s := range ch.sources() {
		for src := &s; src != nil; src = src.next {
			if src.buildErr != nil {
				return Credentials{}, &CredentialsError{Err: fmt.Errorf("%s is configured but unusable: %s (the chain is walked again on the next call)", src.name, credentialsErrorText(src.buildErr))}
			}
			c, err := vendorGet(src.p)
			if err == nil {
				chosen := *src
				chosen.next = nil
				ch.chosen = &chosen
				return c, nil
			}
			failed = append(failed, src.name+": "+credentialsErrorText(err))
			if src.next != nil && (src.handOver == nil || !src.handOver(err)) {
				// A configured source that fails for any other reason
				// (a bad mode, STS down for its role) ends the walk: the
				// next file may hold another identity.
				return Credentials{}, &CredentialsError{Err: fmt.Errorf("%s (configured, so no later source was tried; the chain is walked again on the next call)", failed[len(failed)-1])}
			}
		}
		if s.decisive {
			return Credentials{}, &CredentialsError{Err: fmt.Errorf("%s (configured, so no later source was tried; the chain is walked again on the next call)", strings.Join(failed[len(failed)-s.length():], "; "))}
		}
	}
	msg := "no credentials found: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, configure RRSA/OIDC, a profile, the ECS RAM role or ALIBABA_CLOUD_CREDENTIALS_URI"
	if len(failed) > 0 {
		msg += " (" + strings.Join(failed, "; ") + ")"
	}
	return Credentials{}, &CredentialsError{Err: errors.New(msg + "; the chain is walked again on the next call")}
}

// length is the number of sources s stands for.
func (s *chainSource) length() int {
	n := 0
	for ; s != nil; s = s.next {
		n++
	}
	return n
}

// sources builds the sources present in the environment now, in chain
// order.
func (ch *chain) sources() []chainSource {
	var out []chainSource
	if os.Getenv("ALIBABA_CLOUD_ACCESS_KEY_ID") != "" || os.Getenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET") != "" {
		p, err := providers.NewEnvironmentVariableCredentialsProviderBuilder().Build()
		out = append(out, chainSource{name: "environment (ALIBABA_CLOUD_ACCESS_KEY_ID)", p: p, decisive: true, buildErr: err})
	}
	if os.Getenv("ALIBABA_CLOUD_OIDC_PROVIDER_ARN") != "" || os.Getenv("ALIBABA_CLOUD_OIDC_TOKEN_FILE") != "" || os.Getenv("ALIBABA_CLOUD_OIDC_TOKEN") != "" {
		s := chainSource{name: "OIDC role (ALIBABA_CLOUD_OIDC_TOKEN_FILE)", decisive: true}
		host, err := stsHost(ch.opts.STSEndpoint, ch.opts.STSRegion, ch.opts.VPC)
		if err == nil {
			s.p, err = providers.NewOIDCCredentialsProviderBuilder().WithSTSEndpoint(host).
				WithRoleSessionName(os.Getenv("ALIBABA_CLOUD_ROLE_SESSION_NAME")).Build()
		}
		s.buildErr = err
		out = append(out, s)
	}
	if s, ok := profileSources(); ok {
		out = append(out, s)
	}
	if !strings.EqualFold(os.Getenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED"), "true") {
		b := providers.NewECSRAMRoleCredentialsProviderBuilder()
		if ch.hooks.imds != nil {
			b = b.WithHttpOptions(ch.hooks.imds)
		}
		p, err := b.Build()
		if err == nil {
			out = append(out, chainSource{name: "ECS RAM role (instance metadata)", p: p, decisive: os.Getenv("ALIBABA_CLOUD_ECS_METADATA") != ""})
		}
	}
	if os.Getenv("ALIBABA_CLOUD_CREDENTIALS_URI") != "" {
		p, err := providers.NewURLCredentialsProviderBuilder().Build()
		out = append(out, chainSource{name: "credentials URI (ALIBABA_CLOUD_CREDENTIALS_URI)", p: p, decisive: true, buildErr: err})
	}
	return out
}

// profileSources returns the configuration-file sources that are present:
// a file named by its variable, or found at its default path. The CLI's
// file comes first and hands over to the credentials file.
func profileSources() (chainSource, bool) {
	var list []chainSource
	if !strings.EqualFold(os.Getenv("ALIBABA_CLOUD_CLI_PROFILE_DISABLED"), "true") && present("ALIBABA_CLOUD_CONFIG_FILE", ".aliyun/config.json") {
		p, err := providers.NewCLIProfileCredentialsProviderBuilder().Build()
		list = append(list, chainSource{name: "aliyun CLI profile (~/.aliyun/config.json)", p: p, decisive: true, buildErr: err})
	}
	if present("ALIBABA_CLOUD_CREDENTIALS_FILE", ".alibabacloud/credentials") {
		p, err := providers.NewProfileCredentialsProviderBuilder().Build()
		list = append(list, chainSource{name: "credentials file (~/.alibabacloud/credentials)", p: p, decisive: true, buildErr: err})
	}
	if len(list) == 0 {
		if name := os.Getenv("ALIBABA_CLOUD_PROFILE"); name != "" {
			// A named profile with no file to hold it is a configuration
			// error, not a reason to run as whatever identity comes next.
			return chainSource{name: "profile " + strconv.Quote(name) + " (ALIBABA_CLOUD_PROFILE)", decisive: true,
				buildErr: errors.New("ALIBABA_CLOUD_PROFILE is set but neither ~/.aliyun/config.json nor ~/.alibabacloud/credentials (nor ALIBABA_CLOUD_CONFIG_FILE / ALIBABA_CLOUD_CREDENTIALS_FILE) exists")}, true
		}
		return chainSource{}, false
	}
	if len(list) == 2 {
		list[0].next = &list[1]
		// Hand over only when the CLI's file does not hold the profile
		// (credentials-go: "unable to get profile with '<name>'").
		list[0].handOver = func(err error) bool { return strings.Contains(err.Error(), "unable to get profile with") }
	}
	return list[0], true
}

// present reports whether the file variable env names is set, or the file
// at rel under the home directory exists.
func present(env, rel string) bool {
	if os.Getenv(env) != "" {
		return true
	}
	home := os.Getenv("HOME")
	if home == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(home, rel))
	return err == nil
}

// stsHost resolves the STS host role assumption dials: endpoint when set
// (a host[:port], or an https:// URL of one), else
// sts[-vpc].<region>.aliyuncs.com with region and vpc defaulted from
// ALIBABA_CLOUD_STS_REGION and ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED, else
// sts.aliyuncs.com (as credentials-go resolves them; the SDK's
// NewRAMRoleARNCredentialsProvider ignored both variables).
func stsHost(endpoint, region string, vpc bool) (string, error) {
	if endpoint != "" {
		host := endpoint
		if rest, ok := strings.CutPrefix(strings.ToLower(host), "https://"); ok {
			host = endpoint[len(endpoint)-len(rest):]
		}
		host = strings.TrimSuffix(host, "/")
		if host == "" || strings.ContainsAny(host, "/?#@ \t\r\n") || strings.Contains(host, "://") {
			return "", fmt.Errorf("STS endpoint %q is not a host[:port] (role assumption always uses HTTPS)", endpoint)
		}
		return host, nil
	}
	if region == "" {
		region = os.Getenv("ALIBABA_CLOUD_STS_REGION")
	}
	if !vpc {
		vpc = strings.EqualFold(os.Getenv("ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED"), "true")
	}
	if region == "" {
		return "sts.aliyuncs.com", nil
	}
	if !regionPattern.MatchString(region) {
		return "", fmt.Errorf("STS region %q is not a region id", region)
	}
	if vpc {
		return "sts-vpc." + region + ".aliyuncs.com", nil
	}
	return "sts." + region + ".aliyuncs.com", nil
}

// vendorGet calls a credentials-go provider. Some of them dereference
// fields of the server's answer unchecked (a missing Expiration panics);
// asyncProvider recovers from that.
func vendorGet(p providers.CredentialsProvider) (Credentials, error) {
	c, err := p.GetCredentials()
	switch {
	case err != nil:
		return Credentials{}, err
	case c == nil || c.AccessKeyId == "" || c.AccessKeySecret == "":
		return Credentials{}, errors.New("the source returned no access key")
	}
	return Credentials{AccessKeyID: c.AccessKeyId, AccessKeySecret: c.AccessKeySecret, SecurityToken: c.SecurityToken}, nil
}

// baseTimeout bounds one Retrieve of the base credentials of a role
// assumption (credentials-go asks for them without a context).
const baseTimeout = 30 * time.Second

// vendorBase adapts a CredentialsProvider to credentials-go, as the base
// credentials of a role assumption.
type vendorBase struct{ p CredentialsProvider }

func (b vendorBase) GetCredentials() (*providers.Credentials, error) {
	ctx, cancel := context.WithTimeout(context.Background(), baseTimeout)
	defer cancel()
	c, err := b.p.Retrieve(ctx)
	if err != nil {
		return nil, err
	}
	return &providers.Credentials{AccessKeyId: c.AccessKeyID, AccessKeySecret: c.AccessKeySecret, SecurityToken: c.SecurityToken, ProviderName: "kmsenvelope"}, nil
}

func (b vendorBase) GetProviderName() string { return "kmsenvelope" }

// AssumeRoleOptions configures [AssumeRoleCredentials].
type AssumeRoleOptions struct {
	// RoleARN is the role to assume, acs:ram::<uid>:role/<name>. Required.
	RoleARN string
	// SessionName names the role session (it appears in the session's
	// ARN). Empty means ALIBABA_CLOUD_ROLE_SESSION_NAME, else a generated
	// "credentials-go-<time>".
	SessionName string
	// Duration is the session's lifetime, at least 15 minutes. Zero means
	// one hour.
	Duration time.Duration
	// Policy, when set, is a RAM policy document that further restricts
	// the session.
	Policy string
	// ExternalID is the role's external id, if its trust policy asks for
	// one.
	ExternalID string
	// STSEndpoint, STSRegion and VPC choose the STS endpoint as in
	// [ChainOptions]: empty means sts[-vpc].<region>.aliyuncs.com from
	// ALIBABA_CLOUD_STS_REGION and ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED, else
	// sts.aliyuncs.com. STS is always called over HTTPS.
	STSEndpoint string
	STSRegion   string
	VPC         bool
}

// AssumeRoleCredentials returns credentials for opts.RoleARN, assumed
// through STS AssumeRole with the credentials of base, and renewed within
// three minutes of their expiry. The call to STS honours the caller's
// context as [CredentialsChain] does.
func AssumeRoleCredentials(base CredentialsProvider, opts AssumeRoleOptions) (CredentialsProvider, error) {
	if base == nil {
		return nil, errors.New("kmsclient: assume role: base credentials are required")
	}
	if opts.RoleARN == "" {
		return nil, errors.New("kmsclient: assume role: RoleARN is required")
	}
	if opts.Duration < 0 || opts.Duration > 0 && opts.Duration < 15*time.Minute {
		return nil, fmt.Errorf("kmsclient: assume role: Duration must be at least 15m, got %s", opts.Duration)
	}
	host, err := stsHost(opts.STSEndpoint, opts.STSRegion, opts.VPC)
	if err != nil {
		return nil, errors.New("kmsclient: assume role: " + err.Error())
	}
	b := providers.NewRAMRoleARNCredentialsProviderBuilder().
		WithCredentialsProvider(vendorBase{p: base}).
		WithRoleArn(opts.RoleARN).
		WithRoleSessionName(opts.SessionName).
		WithDurationSeconds(int(opts.Duration / time.Second)).
		WithPolicy(opts.Policy).
		WithExternalId(opts.ExternalID).
		WithStsEndpoint(host)
	p, err := b.Build()
	if err != nil {
		return nil, errors.New("kmsclient: assume role: " + credentialsErrorText(err))
	}
	return &asyncProvider{fetch: func() (Credentials, error) {
		c, err := vendorGet(p)
		if err != nil {
			return Credentials{}, &CredentialsError{Err: errors.New("assume role " + opts.RoleARN + ": " + credentialsErrorText(err))}
		}
		return c, nil
	}}, nil
}

// ecsRAMRole is ECSRAMRoleCredentials with test seams.
func ecsRAMRole(roleName string, hooks chainHooks) CredentialsProvider {
	b := providers.NewECSRAMRoleCredentialsProviderBuilder().WithRoleName(roleName)
	if hooks.imds != nil {
		b = b.WithHttpOptions(hooks.imds)
	}
	p, err := b.Build()
	return &asyncProvider{fetch: func() (Credentials, error) {
		if err != nil {
			return Credentials{}, &CredentialsError{Err: errors.New("ECS RAM role: " + credentialsErrorText(err))}
		}
		c, gerr := vendorGet(p)
		if gerr != nil {
			return Credentials{}, &CredentialsError{Err: errors.New("ECS RAM role: " + credentialsErrorText(gerr))}
		}
		return c, nil
	}}
}
