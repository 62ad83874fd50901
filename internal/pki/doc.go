// Package pki is the operator's own certificate authority: no
// cert-manager is needed for the mutual TLS between the operator and its
// agents, nor for the admission webhook's serving certificate.
//
// One ECDSA P-256 CA, kept in a Secret of the operator's namespace, signs
// three kinds of leaf:
//
//   - the operator's client certificate, whose URI SAN is
//     v1alpha1.OperatorURI: agents accept admin calls only from it;
//   - the agents' serving certificate, one per namespace (the Secret
//     v1alpha1.AgentTLSSecret), with no SANs at all: the operator verifies
//     agents by chain only, since pod IPs change, and a certificate
//     without names can never pass as the webhook (or anything else) to a
//     client that checks host names;
//   - the webhook's serving certificate, for the webhook Service's DNS
//     names, whose CA the API server learns from the
//     MutatingWebhookConfiguration's caBundle.
//
// The Rotator (a manager.Runnable that needs leader election) creates and
// renews all of them. Renewal starts when a third of a certificate's
// lifetime is left. A renewed CA does not replace the old one at once: the
// bundle every party trusts holds each CA until it expires, so
// certificates from the old and the new CA are accepted side by side while
// Secret volumes catch up. The operator keeps its previous client
// certificate for that window too and picks, per connection, the one the
// agent's trusted CAs (announced in the TLS handshake) accept.
//
// Source serves the material to the running operator straight from the
// Secrets, so every replica follows a rotation without a restart.
package pki
