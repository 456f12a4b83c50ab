package auth

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	_ "github.com/junctionhq/junction/sdk/api/junction/v1"
)

// TestEveryMethodHasARule fails for a method of the public API that the
// interceptor has no rule for (it would be refused to everyone), and for
// a rule naming request fields that do not exist.
func TestEveryMethodHasARule(t *testing.T) {
	n := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("junction.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				md := sd.Methods().Get(j)
				proc := "/" + string(sd.FullName()) + "/" + string(md.Name())
				n++
				r, ok := rules[proc]
				if !ok {
					t.Errorf("%s has no permission rule", proc)
					continue
				}
				for _, path := range []string{r.station, r.group} {
					if path != "" && !hasStringField(md.Input(), path) {
						t.Errorf("%s: rule names %q, which %s does not have", proc, path, md.Input().FullName())
					}
				}
			}
		}
		return true
	})
	if n == 0 {
		t.Fatal("no methods registered")
	}
}

func hasStringField(md protoreflect.MessageDescriptor, path string) bool {
	for {
		var name, rest string
		for i := 0; i < len(path); i++ {
			if path[i] == '.' {
				name, rest = path[:i], path[i+1:]
				break
			}
		}
		if name == "" {
			fd := md.Fields().ByName(protoreflect.Name(path))
			return fd != nil && fd.Kind() == protoreflect.StringKind
		}
		fd := md.Fields().ByName(protoreflect.Name(name))
		if fd == nil || fd.Message() == nil {
			return false
		}
		md, path = fd.Message(), rest
	}
}
