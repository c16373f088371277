// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: watch_hub.h
// -----------------------------------------------------------------------------
// The fan-out of catalog events to Watch streams. Each subscriber (a Watcher)
// has a bounded queue: Publish appends a matching event (the name starts with
// the watcher's prefix) or, when the queue is full, drops it and counts it;
// the consumer later gets one TYPE_OVERFLOW event with the count. Publish
// never waits for a consumer.
//
// A consumer is told that its queue has something through its notify
// callback, given to Subscribe. Notify is edge-triggered: it is called once
// after a Take that moved nothing, when the next matching event is published
// or the hub shuts down; a consumer that keeps taking while it finds events is
// not notified at all. Notify callbacks run on the hub's notifier thread,
// never on the thread that publishes: Publish is called by the Catalog's
// listener, with the catalog's lock held, and a gRPC operation started from
// there (a Watch stream's write) may run the handler of a newly arrived call
// inline on that thread, which would then wait for that same lock.
//
//   WatchHub hub(/*queue_capacity=*/1024);
//   std::shared_ptr<WatchHub::Watcher> w = hub.Subscribe("run1/", [] { ... });
//   hub.Publish(event);          // from the catalog listener
//   std::deque<v1::WatchEvent> events;
//   bool open = w->Take(&events);  // from the consumer, after a notify
//   ...
//   w->ClearNotify();            // no notify runs once it returns
//   hub.Unsubscribe(w);
//
// Private to server/src (it includes *.pb.h).
//
// Thread-safety: every method is thread-safe. Lock order: the hub's mutex,
// then a watcher's; a watcher's notify mutex, then its queue mutex (the
// consumer takes from inside notify). No hub lock is held while a notify
// callback runs.

#ifndef SHMARRAY_SERVER_SRC_WATCH_HUB_H_
#define SHMARRAY_SERVER_SRC_WATCH_HUB_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "shmarray/v1/array_service.pb.h"

namespace shmarray::server::internal {

class WatchHub {
 public:
  // One subscription: its prefix, its queue, its notify callback. Shared by
  // the hub (while subscribed) and its consumer, so a Publish that races
  // with the consumer's end touches a live object.
  class Watcher {
   public:
    explicit Watcher(std::string prefix) : prefix_(std::move(prefix)) {}

    const std::string& prefix() const { return prefix_; }

    // Moves the queued events into *out, then a TYPE_OVERFLOW event when
    // some were dropped since the last Take (the count is reset). Returns
    // false once the hub is shut down; the events queued before are still
    // moved by that call. When it moves nothing and the hub is not shut down,
    // notify is called (once) when the next matching event is published or
    // the hub shuts down.
    bool Take(std::deque<v1::WatchEvent>* out) ABSL_LOCKS_EXCLUDED(mu_);

    // Stops the notify calls: once it returns, notify is not running and
    // will not be called again. Must not be called from notify itself.
    void ClearNotify() ABSL_LOCKS_EXCLUDED(notify_mu_);

   private:
    friend class WatchHub;

    // Calls notify unless it was cleared (the notifier thread).
    void Notify() ABSL_LOCKS_EXCLUDED(notify_mu_);

    const std::string prefix_;
    absl::Mutex notify_mu_ ABSL_ACQUIRED_BEFORE(mu_);
    std::function<void()> notify_ ABSL_GUARDED_BY(notify_mu_);
    absl::Mutex mu_;
    std::deque<v1::WatchEvent> queue_ ABSL_GUARDED_BY(mu_);
    int64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
    bool closed_ ABSL_GUARDED_BY(mu_) = false;
    // The consumer's last Take moved nothing: the next event notifies.
    bool waiting_ ABSL_GUARDED_BY(mu_) = false;
  };

  // Starts the notifier thread. A capacity of 0 is taken as 1.
  explicit WatchHub(size_t queue_capacity);
  // Stops the notifier thread (after the notify calls already due).
  ~WatchHub();

  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // A new watcher of the events whose name starts with `prefix`; `notify`
  // (may be empty) is called on the notifier thread as the class comment
  // says, until Watcher::ClearNotify. After Shutdown, the watcher is born
  // closed (its first Take returns false).
  std::shared_ptr<Watcher> Subscribe(std::string prefix, std::function<void()> notify)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Forgets `watcher`: no event is queued for it any more.
  void Unsubscribe(const std::shared_ptr<Watcher>& watcher) ABSL_LOCKS_EXCLUDED(mu_);
  // Queues `event` for every watcher whose prefix it matches (or counts it as
  // dropped for those whose queue is full). Never waits for a consumer.
  void Publish(const v1::WatchEvent& event) ABSL_LOCKS_EXCLUDED(mu_);
  // Closes every watcher, present and future, and notifies those waiting.
  // Events published later are still queued; Take reports the end.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Queues `w`'s notify if its consumer waits for one (edge-triggered).
  void NotifyIfWaitingLocked(const std::shared_ptr<Watcher>& w)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_, w->mu_);
  void RunNotifier() ABSL_LOCKS_EXCLUDED(mu_);
  bool NotifierHasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !due_.empty() || stopping_;
  }

  const size_t capacity_;
  absl::Mutex mu_;
  std::set<std::shared_ptr<Watcher>> watchers_ ABSL_GUARDED_BY(mu_);
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  // Watchers whose notify is due, oldest first; the notifier thread calls
  // them outside every lock of the hub.
  std::vector<std::shared_ptr<Watcher>> due_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread notifier_;
};

}  // namespace shmarray::server::internal

#endif  // SHMARRAY_SERVER_SRC_WATCH_HUB_H_
