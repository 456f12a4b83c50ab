package keylock

import (
	"sync"
	"testing"
)

func TestLockSerialisesOneKeyOnly(t *testing.T) {
	var m Map
	unlockA := m.Lock("a")
	// Another key is free while a is held.
	m.Lock("b")()

	got := make(chan struct{})
	go func() {
		unlock := m.Lock("a")
		close(got)
		unlock()
	}()
	select {
	case <-got:
		t.Fatal("a second holder got key a while it was held")
	default:
	}
	unlockA()
	<-got
}

func TestKeysAreForgottenWhenFree(t *testing.T) {
	var m Map
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() { defer wg.Done(); m.Lock("k")() }()
	}
	wg.Wait()
	if n := len(m.keys); n != 0 {
		t.Fatalf("%d keys kept after every lock was released", n)
	}
}
