package agentapi_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/layercache/layercache/pkg/agent/agentapi"
)

func ExamplePolicy_ComputeHash() {
	p := agentapi.Policy{
		Generation: 4,
		Layers: agentapi.Layers{
			Memory: agentapi.MemoryLayer{MaxEntries: 10_000},
			Redis:  &agentapi.RedisLayer{Addr: "redis:6379", Prefix: "shop:"},
		},
		Freshness: agentapi.Freshness{TTL: agentapi.Duration(5 * time.Minute)},
		Origins:   []agentapi.Origin{{KeyPattern: "user:*", URLTemplate: "http://users/users/{1}"}},
	}
	if err := p.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	hash, _ := p.ComputeHash()
	p.Generation = 5 // the generation is not part of the content
	again, _ := p.ComputeHash()
	fmt.Println(strings.HasPrefix(hash, agentapi.HashPrefix), hash == again)
	// Output: true true
}

func ExamplePolicy_Validate() {
	p := agentapi.Policy{Layers: agentapi.Layers{Redis: &agentapi.RedisLayer{Addr: "redis"}}}
	fmt.Println(p.Validate())
	// Output: invalid policy: layers.redis.addr: must be host:port, got "redis"; layers.redis.prefix: is required, so that the agent's keys are told apart from other data in the database
}

func ExampleKeyPattern_Match() {
	p, _ := agentapi.CompileKeyPattern("order:*:*")
	u, _ := agentapi.CompileURLTemplate("http://orders/customers/{1}/orders/{2}", p.Wildcards())
	captures, ok := p.Match("order:c42:o7")
	fmt.Println(ok, u.Expand("order:c42:o7", captures))
	// Output: true http://orders/customers/c42/orders/o7
}
