#include "llm/llm_client.h"

#include <utility>

namespace jrvs::llm {

Result<ModelInfo> LlmClient::DescribeModel(std::string_view name) {
  auto models = ListModels();
  if (!models) return Error(models.error());
  for (auto& m : *models) {
    if (m.name == name) return std::move(m);
  }
  // Ollama-style names: "llama3.2" means "llama3.2:latest".
  for (auto& m : *models) {
    if (m.name == std::string(name) + ":latest") return std::move(m);
  }
  return Error(StatusCode::kNotFound,
               std::string(provider()) + ": no model named '" + std::string(name) + "'");
}

}  // namespace jrvs::llm
