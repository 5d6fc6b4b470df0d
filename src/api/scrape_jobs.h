// ScrapeJobs: the registry of background crawls behind POST /api/scrape (depth > 0 or
// max_pages > 1) and GET /api/jobs/{id}.
//
// Each job runs one scrape::Crawler on a thread of its own (crawls are I/O bound and long; the
// HTTP pools must stay free) with the PageIngester as its sink. At most max_running jobs run at
// once: Start() beyond that is ResourceExhausted (429), never a queue that grows. Finished jobs
// (done, failed, cancelled) are kept for keep_finished_ms so clients can read their results, and
// at most max_finished of them (oldest dropped first); then GET answers 404 like for an unknown
// id. A snapshot's counters and results are updated live as pages finish.
//
// Job ids are 16 random hex characters (unguessable, so one client cannot read another's job by
// counting). Timestamps are Unix milliseconds.
//
// Thread safety: every method may be called concurrently. The destructor cancels running jobs
// and waits for them (in-flight fetches finish first, bounded by the fetcher's timeouts).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "api/page_ingester.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "core/status.h"
#include "scrape/crawler.h"
#include "scrape/fetcher.h"

namespace jrvs::api {

struct ScrapeJobsOptions {
  size_t max_running = 4;              // crawls at once; more -> ResourceExhausted (>= 1)
  size_t max_finished = 100;           // finished jobs remembered (>= 0)
  int64_t keep_finished_ms = 3600000;  // how long a finished job stays readable (ms)
};

enum class JobState { kQueued, kRunning, kDone, kFailed, kCancelled };
const char* JobStateName(JobState s);  // "queued", "running", "done", "failed", "cancelled"

// The scrape_pages_total{status} counter family (shared by ScrapeJobs and ScrapeApi).
MetricFamily<Counter>& ScrapePagesCounter(MetricsRegistry& metrics);

struct JobSnapshot {
  std::string id;
  JobState state = JobState::kQueued;
  std::string url;
  scrape::CrawlProgress progress;  // queued, done, failed, skipped, current_url
  std::vector<scrape::PageReport> results;
  int64_t created_at_ms = 0;
  int64_t started_at_ms = 0;   // 0 until it starts
  int64_t finished_at_ms = 0;  // 0 until it ends
};

class ScrapeJobs {
 public:
  // All must outlive the registry.
  // With `metrics`: scrape_pages_total{status} counts every page a crawl finishes and
  // scrape_jobs_running the crawls in progress.
  ScrapeJobs(scrape::Fetcher& fetcher, const PageIngester& ingester, ScrapeJobsOptions options,
             const Clock& clock = SystemClock::Instance(), MetricsRegistry* metrics = nullptr);
  ~ScrapeJobs();
  ScrapeJobs(const ScrapeJobs&) = delete;
  ScrapeJobs& operator=(const ScrapeJobs&) = delete;

  // Starts a crawl of `url`; returns the job id. ResourceExhausted when max_running jobs run;
  // InvalidArgument for invalid options.
  Result<std::string> Start(std::string url, scrape::CrawlOptions options);
  // NotFound for an unknown (or expired) id.
  Result<JobSnapshot> Get(const std::string& id);
  // Asks a running job to stop (pages in flight finish); NotFound for an unknown id. A finished
  // job is left as it is.
  Status Cancel(const std::string& id);
  // Blocks until the job has finished (tests, the CLI); NotFound for an unknown id.
  Result<JobSnapshot> Wait(const std::string& id);

 private:
  struct Job;
  void RunJob(const std::shared_ptr<Job>& job);
  // Drops expired finished jobs; their (returning) threads go to `reaped` for the caller to
  // join once mu_ is released.
  void PruneLocked(int64_t now_ms, std::vector<std::thread>* reaped);

  scrape::Fetcher& fetcher_;
  const PageIngester& ingester_;
  ScrapeJobsOptions options_;
  const Clock& clock_;
  MetricFamily<Counter>* pages_total_ = nullptr;  // by status; null without metrics
  Gauge* jobs_running_ = nullptr;

  std::mutex mu_;  // guards jobs_, running_ and every Job's mutable fields
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  size_t running_ = 0;
  std::mt19937_64 rng_;  // job ids; seeded from std::random_device
};

}  // namespace jrvs::api
