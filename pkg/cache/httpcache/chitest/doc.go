// Package chitest checks that httpcache's middleware works in a chi router.
// It is a module of its own so that chi never enters the main module's
// go.mod; it has no code besides its tests.
package chitest
