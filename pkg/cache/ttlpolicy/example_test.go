package ttlpolicy_test

import (
	"fmt"
	"time"

	"github.com/layercache/layercache/pkg/cache/ttlpolicy"
)

func ExampleNextHour() {
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2024, 5, 1, 4, 45, 0, 0, time.UTC) // 10:15 in Kolkata
	fmt.Println(ttlpolicy.NextHour(kolkata).TTL(now))
	fmt.Println(ttlpolicy.NextHour(time.UTC).TTL(now))
	// Output:
	// 45m0s
	// 15m0s
}

func ExampleJitter() {
	// nil: the randomly seeded math/rand/v2 generator.
	j, err := ttlpolicy.NewJitter(5*time.Minute, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	ttl := j.Apply(time.Hour)
	fmt.Println(ttl >= time.Hour && ttl <= time.Hour+5*time.Minute)
	// Output: true
}
