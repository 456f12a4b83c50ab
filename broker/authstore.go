package broker

import "github.com/junctionhq/junction/broker/meta"

// Auth is the part of the broker's metadata file that keeps users and API
// tokens, for the authenticator.
func (b *Broker) Auth() meta.AuthStore { return b.meta }
