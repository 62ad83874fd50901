package glob_test

import (
	"fmt"

	"github.com/layercache/layercache/pkg/cache/glob"
)

func Example() {
	p, err := glob.Compile(`user:*:session\*`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("scan prefix %q\n", p.Prefix())
	for _, key := range []string{"user:42:session*", "user:42:session", "order:1"} {
		fmt.Println(key, p.Match(key))
	}
	// Output:
	// scan prefix "user:"
	// user:42:session* true
	// user:42:session false
	// order:1 false
}
