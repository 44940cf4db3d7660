/*
 * hashpool.h - a bounded pool of threads that verify password hashes, so a
 * flood of logins queues here (and is refused when the queue is full)
 * instead of starving token verification on the HTTP threads.
 */
#ifndef JWTGATE_HASHPOOL_H
#define JWTGATE_HASHPOOL_H

struct hashpool;

/* Called on a worker thread with password_verify()'s result (1, 0, -1). */
typedef void (*hashpool_done_fn)(void *arg, int result);

/*
 * workers: threads (0 = number of online CPUs); queue_max: jobs waiting
 * beyond those running (0 = 64 per worker). NULL if no thread starts.
 */
struct hashpool *hashpool_new(unsigned workers, unsigned queue_max);

/*
 * Queue one verification of password against hash; hash NULL verifies
 * against the default dummy (an unknown user), and done gets 0. Both
 * strings are copied; the copy of the password is wiped after use. -1 when
 * the queue is full or the pool is stopping: answer 503, do not block.
 */
int hashpool_submit(struct hashpool *pool, const char *hash,
    const char *password, hashpool_done_fn done, void *arg);

/* Jobs queued and running, for metrics. */
unsigned hashpool_pending(struct hashpool *pool);

/*
 * Refuse new jobs (hashpool_submit() returns -1), run every job already
 * queued (each done is called), join the threads. The pool stays
 * allocated: submitting to it is safe until hashpool_free().
 */
void hashpool_stop(struct hashpool *pool);

/* Runs every job already queued (each done is called), then joins. */
void hashpool_free(struct hashpool *pool);

#endif
