#include "app/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

namespace jrvs::app {
namespace {

// A fake environment for LoadConfig; a plain function pointer reads this map.
std::map<std::string, std::string> g_env;
std::optional<std::string> FakeGetenv(const char* name) {
  auto it = g_env.find(name);
  if (it == g_env.end()) return std::nullopt;
  return it->second;
}

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_env.clear();
    dir_ = std::filesystem::temp_directory_path() /
           ("jrvs_config_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string WriteToml(const std::string& text) {
    auto path = dir_ / "jrvs.toml";
    std::ofstream(path) << text;
    return path.string();
  }

  Result<Config> Load(std::optional<std::string> file, FlagValues flags = {},
                      ConfigOrigin* origin = nullptr) {
    LoadOptions options;
    options.config_path = std::move(file);
    options.flags = std::move(flags);
    options.getenv_fn = &FakeGetenv;
    return LoadConfig(options, origin);
  }

  std::filesystem::path dir_;
};

TEST_F(ConfigTest, DefaultsWithNoFile) {
  ConfigOrigin origin;
  auto config = Load(std::nullopt, {}, &origin);
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->server_host, "127.0.0.1");
  EXPECT_EQ(config->server_port, 8000);
  EXPECT_EQ(config->data_dir, "./data");
  EXPECT_EQ(origin.sources["server.port"], ConfigSource::kDefault);
}

TEST_F(ConfigTest, FileThenEnvironmentThenFlagsWin) {
  std::string file = WriteToml(
      "[server]\nport = 9001\nhost = \"0.0.0.0\"\naccess_log = true\n[data]\ndir = \"/tmp/x\"\n");
  g_env["JRVS_SERVER_PORT"] = "9002";
  ConfigOrigin origin;
  auto config = Load(file, {}, &origin);
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->server_port, 9002);       // env beats file
  EXPECT_EQ(config->server_host, "0.0.0.0");  // file beats default
  EXPECT_TRUE(config->server_access_log);
  EXPECT_EQ(origin.sources["server.port"], ConfigSource::kEnvironment);
  EXPECT_EQ(origin.sources["server.host"], ConfigSource::kFile);
  EXPECT_EQ(origin.sources["log.level"], ConfigSource::kDefault);

  auto flagged = Load(file, {{"server.port", "9003"}}, &origin);
  ASSERT_TRUE(flagged);
  EXPECT_EQ(flagged->server_port, 9003);  // flag beats env
  EXPECT_EQ(origin.sources["server.port"], ConfigSource::kFlag);
}

TEST_F(ConfigTest, JrvsLegacyVariablesAreHonouredBelowOurs) {
  g_env["OLLAMA_BASE_URL"] = "http://10.0.0.5:11434";
  g_env["OLLAMA_DEFAULT_MODEL"] = "mistral";
  auto config = Load(std::nullopt);
  ASSERT_TRUE(config);
  EXPECT_EQ(config->llm_ollama_url, "http://10.0.0.5:11434");
  EXPECT_EQ(config->llm_model, "mistral");
  g_env["JRVS_LLM_MODEL"] = "qwen";
  config = Load(std::nullopt);
  ASSERT_TRUE(config);
  EXPECT_EQ(config->llm_model, "qwen");
}

TEST_F(ConfigTest, BadValuesNameTheKeyAndSource) {
  g_env["JRVS_SERVER_PORT"] = "70000";
  auto config = Load(std::nullopt);
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message().find("server.port"), std::string::npos);
  EXPECT_NE(config.error().message().find("JRVS_SERVER_PORT"), std::string::npos);

  g_env.clear();
  config = Load(std::nullopt, {{"server.port", "eighty"}});
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message().find("not an integer"), std::string::npos);

  config = Load(std::nullopt, {{"log.level", "loud"}});
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message().find("log.level"), std::string::npos);

  config = Load(std::nullopt, {{"server.access_log", "maybe"}});
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message().find("server.access_log"), std::string::npos);
}

TEST_F(ConfigTest, FileErrors) {
  auto config = Load(WriteToml("[server]\nport = \"eighty\"\n"));
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message().find("server.port: expected an integer"), std::string::npos);

  config = Load(WriteToml("[server]\nprot = 1\n"));
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message().find("unknown key 'server.prot'"), std::string::npos);

  config = Load(WriteToml("[server\nport = 1\n"));
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message().find("jrvs.toml:1"), std::string::npos);

  config = Load((dir_ / "missing.toml").string());
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message().find("not found"), std::string::npos);
}

TEST_F(ConfigTest, ConfigFileFromEnvironment) {
  g_env["JRVS_CONFIG"] = WriteToml("[log]\nlevel = \"debug\"\n");
  ConfigOrigin origin;
  auto config = Load(std::nullopt, {}, &origin);
  ASSERT_TRUE(config);
  EXPECT_EQ(config->log_level, "debug");
  ASSERT_TRUE(origin.file.has_value());
}

TEST_F(ConfigTest, NamingRuleHoldsForEveryKey) {
  for (const auto& k : ConfigKeys()) {
    std::string env = "JRVS_";
    std::string flag = "--";
    for (char c : k.key) {
      env += c == '.' ? '_' : static_cast<char>(std::toupper(c));
      flag += (c == '.' || c == '_') ? '-' : c;
    }
    EXPECT_EQ(k.env, env);
    EXPECT_EQ(k.flag, flag);
  }
}

TEST_F(ConfigTest, FormatShowsValuesAndSources) {
  g_env["JRVS_SERVER_PORT"] = "8123";
  ConfigOrigin origin;
  auto config = Load(std::nullopt, {{"log.level", "warn"}}, &origin);
  ASSERT_TRUE(config);
  std::string text = FormatConfig(*config, origin);
  EXPECT_NE(text.find("server.port = 8123"), std::string::npos) << text;
  EXPECT_NE(text.find("# env"), std::string::npos);
  EXPECT_NE(text.find("log.level = \"warn\""), std::string::npos);
  EXPECT_NE(text.find("# flag"), std::string::npos);
}

}  // namespace
}  // namespace jrvs::app
