// Command-line plumbing shared by the commands: every configuration key becomes a flag on a
// subcommand (--section-name, plus its short alias), and the parsed flags become FlagValues for
// LoadConfig. CLI11 stays inside app/.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "app/config.h"

namespace CLI {
class App;
}

namespace jrvs::app {

// Holds the options registered on one subcommand and turns what was given into LoadOptions.
class ConfigFlags {
 public:
  // Registers --config and one flag per configuration key on `cmd`.
  explicit ConfigFlags(CLI::App& cmd);
  ~ConfigFlags();
  ConfigFlags(const ConfigFlags&) = delete;
  ConfigFlags& operator=(const ConfigFlags&) = delete;

  // After parsing: the effective configuration, or an error naming the bad key.
  Result<Config> Load(ConfigOrigin* origin = nullptr) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace jrvs::app
