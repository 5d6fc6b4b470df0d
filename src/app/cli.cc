#include "app/cli.h"

#include <map>

#include <CLI/CLI.hpp>

namespace jrvs::app {

struct ConfigFlags::Impl {
  std::optional<std::string> config_path;
  std::map<std::string, CLI::Option*> options;  // key -> option
};

ConfigFlags::ConfigFlags(CLI::App& cmd) : impl_(std::make_unique<Impl>()) {
  cmd.add_option("-c,--config", impl_->config_path,
                 "TOML configuration file (default: $JRVS_CONFIG, else ./jrvs.toml if present)");
  for (const auto& key : ConfigKeys()) {
    std::string names = key.flag;
    if (!key.short_flag.empty()) names = key.short_flag + "," + names;
    std::string help = key.help + " [" + key.key + ", " + key.env + "]";
    // add_option(name) with no target: CLI11's (name, string) overload would bind the string as
    // the value's destination, not as the description.
    CLI::Option* opt = cmd.add_option(names);
    opt->description(help);
    opt->type_name(key.type == "int"     ? "INT"
                   : key.type == "bool"  ? "BOOL"
                   : key.type == "float" ? "NUMBER"
                                         : "TEXT");
    if (key.type == "bool") opt->expected(0, 1);
    if (key.key == "server.cors_origins" || key.key == "data.dir" || key.key == "log.level" ||
        key.key == "server.host" || key.key == "server.port" || key.key == "server.threads") {
      opt->group("Common options");
    } else {
      opt->group("Configuration (any key; see `jrvs config`)");
    }
    impl_->options[key.key] = opt;
  }
}

ConfigFlags::~ConfigFlags() = default;

Result<Config> ConfigFlags::Load(ConfigOrigin* origin) const {
  LoadOptions options;
  options.config_path = impl_->config_path;
  for (const auto& [key, opt] : impl_->options) {
    if (opt->count() == 0) continue;
    const auto& results = opt->results();
    options.flags[key] = results.empty() ? "true" : results.back();
  }
  return LoadConfig(options, origin);
}

}  // namespace jrvs::app
