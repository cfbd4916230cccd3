package cf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"syscall"
)

// netCause is why a request got no answer at all, said for a person: what
// happened, what to change, and whether trying again can help.
type netCause struct {
	what  string
	fix   string
	retry bool
}

// classifyNet names the cause of err, the error of a request that got no
// answer; ok is false when err is not such an error. A name that does not
// resolve, a refused connection and a certificate that is not trusted will
// not pass by themselves: they are not retried, and their fix names what to
// change (CLOUDFLARE_BASE_URL, the proxy, the trust store). A lookup or
// connection that timed out or was reset may pass, and is retried.
func classifyNet(err error) (netCause, bool) {
	host := "the Cloudflare API"
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
			host = u.Host
		}
	}
	var (
		op   *net.OpError
		dns  *net.DNSError
		cert *tls.CertificateVerificationError
		ua   x509.UnknownAuthorityError
		hn   x509.HostnameError
		ci   x509.CertificateInvalidError
	)
	proxy := errors.As(err, &op) && op.Op == "proxyconnect"
	switch {
	case proxy && (errors.As(err, &dns) || errors.Is(err, syscall.ECONNREFUSED)):
		return netCause{
			what: fmt.Sprintf("cannot connect to the proxy (%v)", op.Err),
			fix:  "check HTTPS_PROXY (or HTTP_PROXY, ALL_PROXY): the proxy it names does not answer; unset it, or add the API's host to NO_PROXY, to connect directly",
		}, true
	case proxy:
		return netCause{
			what:  fmt.Sprintf("the proxy did not connect (%v)", op.Err),
			fix:   "check HTTPS_PROXY (or HTTP_PROXY, ALL_PROXY) and that the proxy lets this machine reach " + host,
			retry: true,
		}, true
	case errors.As(err, &dns) && (dns.IsTimeout || dns.IsTemporary):
		return netCause{
			what:  fmt.Sprintf("looking up %s failed for now (DNS): %v", dns.Name, dns.Err),
			fix:   "check this machine's network connection and DNS resolver",
			retry: true,
		}, true
	case errors.As(err, &dns):
		return netCause{
			what: fmt.Sprintf("cannot resolve %s (DNS): %s", dns.Name, dns.Err),
			fix: "check the host name in CLOUDFLARE_BASE_URL (unset, it is api.cloudflare.com) and this machine's network " +
				"connection and DNS resolver; offline, use --backend local",
		}, true
	case errors.Is(err, syscall.ECONNREFUSED):
		return netCause{
			what: fmt.Sprintf("connection to %s refused: nothing listens there", host),
			fix:  "check CLOUDFLARE_BASE_URL (unset, it is https://api.cloudflare.com/client/v4) and any firewall between here and there",
		}, true
	case errors.As(err, &cert) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci):
		return netCause{
			what: fmt.Sprintf("the TLS certificate of %s is not trusted: %v", host, tlsReason(err)),
			fix: "behind a proxy that inspects TLS, add its CA certificate to the system's trust store (or point SSL_CERT_FILE " +
				"at it); otherwise check that CLOUDFLARE_BASE_URL names the Cloudflare API",
		}, true
	case errors.As(err, &op):
		return netCause{
			what:  fmt.Sprintf("no answer from %s: %v", host, op.Err),
			fix:   "check this machine's network connection, or try again",
			retry: true,
		}, true
	}
	return netCause{}, false
}

// tlsReason is the x509 reason of a certificate error, without the
// "tls: failed to verify certificate" preamble.
func tlsReason(err error) error {
	var cert *tls.CertificateVerificationError
	if errors.As(err, &cert) && cert.Err != nil {
		return cert.Err
	}
	return err
}

// netError is err, a request's failure to get an answer, with its cause
// and fix in its text; other errors are returned as they are.
func netError(err error) error {
	c, ok := classifyNet(err)
	if !ok {
		return err
	}
	return &causedError{c, err}
}

type causedError struct {
	cause netCause
	err   error
}

func (e *causedError) Error() string { return e.cause.what + "; " + e.cause.fix }
func (e *causedError) Unwrap() error { return e.err }

// retryableNet reports whether a request that got no answer may get one if
// tried again.
func retryableNet(err error) bool {
	c, ok := classifyNet(err)
	return !ok || c.retry
}
