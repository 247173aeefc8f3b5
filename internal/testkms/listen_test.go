package testkms_test

import (
	"crypto/tls"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
)

func TestListenAddressAndCertificateNames(t *testing.T) {
	// A free port, taken and released, as a fixed address would be.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	srv := testkms.Start(t, testkms.Options{Addr: addr, TLS: true, TLSHosts: []string{"emulator.test", "10.9.8.7"}})
	assert.Equal(t, addr, srv.Endpoint())
	for _, name := range []string{"emulator.test", "localhost", "127.0.0.1"} {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: srv.ClientTLSConfig().RootCAs, ServerName: name})
		require.NoErrorf(t, err, "server name %s", name)
		cert := conn.ConnectionState().PeerCertificates[0]
		require.NoError(t, conn.Close())
		assert.Contains(t, cert.DNSNames, "emulator.test")
		var ips []string
		for _, ip := range cert.IPAddresses {
			ips = append(ips, ip.String())
		}
		assert.Contains(t, ips, "10.9.8.7")
	}
	_, err = tls.Dial("tcp", addr, &tls.Config{RootCAs: srv.ClientTLSConfig().RootCAs, ServerName: "other.test"})
	assert.Error(t, err)

	_, err = testkms.New(testkms.Options{Addr: addr})
	assert.ErrorContains(t, err, "listen", "the address is taken")
}
