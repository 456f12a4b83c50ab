// Package archtest holds tests that keep Junction's layout honest: the
// import rules between top-level folders (see ARCHITECTURE.md) and the
// dependencies a community connector inherits from the sdk module. It has
// no code of its own.
//
// The rules, for packages' own (non-test) imports:
//
//   - Layers rank api, internal < broker < plugin, catalog, web < server < cmd;
//     a package never imports one of a higher rank, nor one of another
//     folder of its own rank above api and internal (plugin and catalog do
//     not know each other).
//   - catalog and plugin/config never import broker.
//   - connectors import nothing of this repository but the sdk module (their
//     tests may drive them through the host), and nothing imports a
//     connector.
//
// Tests may reach up: internal/integration runs the sdk client against the
// broker.
//   - The sdk module imports nothing of the root module.
package archtest
