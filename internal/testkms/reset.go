package testkms

// Reset returns the server to the state [New] leaves it in, without closing
// its listener: every account but the default one, every credential, key,
// alias and secret, the RAM policies, groups and users, the Authorizer
// (policies are no longer enforced), every fault and forced denial, the
// request facts (a gateway's return to its GatewayOptions.Facts), the
// call counts (every gateway's too) and the remembered signature nonces
// are dropped. The endpoint, region, CA, instance gateways and the default
// secrets key stay.
//
// It lets one server serve many independent scenarios in turn, in constant
// memory and file descriptors. Call it only when no request is in flight:
// a request served during Reset may see part of the old state and part of
// the new. Credentials issued before Reset stop working (their access keys
// are unknown afterwards).
func (s *Server) Reset() {
	s.authz.Store(nil)
	s.ClearFaults()
	s.ResetCalls()
	s.resetFacts()

	s.nonces.reset()

	s.ram.mu.Lock()
	s.ram.attached = nil
	s.ram.groups = nil
	s.ram.entities = nil
	s.ram.seq = 0
	s.ram.mu.Unlock()

	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts = make(map[string]*account)
	s.identities = make(map[string]*identity)
	s.keyIndex = make(map[string]*key)
	s.seq = 0
	s.accountLocked(DefaultAccountID)
}
