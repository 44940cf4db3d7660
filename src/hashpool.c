/*
 * hashpool.c - worker threads around a fixed ring of jobs, one mutex and
 * two condition variables. Submission never blocks: a full ring is an
 * answer, not a wait.
 */
#include "hashpool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "password.h"
#include "xmalloc.h"

#define HASHPOOL_QUEUE_PER_WORKER 64

struct hashpool_job {
	char            *hash; /* NULL: the dummy */
	char            *password;
	hashpool_done_fn done;
	void            *arg;
};

struct hashpool {
	pthread_mutex_t      lock;
	pthread_cond_t       nonempty;
	struct hashpool_job *ring;
	unsigned             cap, head, count;
	unsigned             running;
	bool                 stopping;
	pthread_t           *threads;
	unsigned             nthreads;
};

static void
hashpool_run(struct hashpool_job *job)
{
	int result;

	if (job->hash == NULL) {
		password_dummy_verify(job->password);
		result = 0;
	} else
		result = password_verify(job->hash, job->password);
	password_free(job->password);
	free(job->hash);
	job->done(job->arg, result);
}

static void *
hashpool_worker(void *arg)
{
	struct hashpool    *pool = arg;
	struct hashpool_job job;

	/*
	 * Hashing yields to the HTTP threads: at nice 10 a busy worker gets a
	 * small share of a CPU that token verification also wants, and all of
	 * an idle one. On Linux the priority is per thread (gettid()).
	 */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), 10) == -1)
		log_warn("hash pool: cannot lower the workers' priority");

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		while (pool->count == 0 && !pool->stopping)
			pthread_cond_wait(&pool->nonempty, &pool->lock);
		if (pool->count == 0)
			break; /* stopping and drained */
		job = pool->ring[pool->head];
		pool->head = (pool->head + 1) % pool->cap;
		pool->count--;
		pool->running++;
		pthread_mutex_unlock(&pool->lock);
		hashpool_run(&job);
		pthread_mutex_lock(&pool->lock);
		pool->running--;
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

struct hashpool *
hashpool_new(unsigned workers, unsigned queue_max)
{
	struct hashpool *pool;
	long             ncpu;

	if (workers == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		workers = ncpu > 0 ? (unsigned)ncpu : 1;
	}
	if (queue_max == 0)
		queue_max = workers * HASHPOOL_QUEUE_PER_WORKER;
	pool = xcalloc(1, sizeof *pool);
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->nonempty, NULL);
	pool->cap = queue_max;
	pool->ring = xcalloc(queue_max, sizeof *pool->ring);
	pool->threads = xcalloc(workers, sizeof *pool->threads);
	(void)
	    password_dummy_hash(); /* built once, before any thread needs it */
	for (; pool->nthreads < workers; pool->nthreads++) {
		if (pthread_create(&pool->threads[pool->nthreads], NULL,
		        hashpool_worker, pool) != 0) {
			log_error("hash pool: cannot start thread %u of %u",
			    pool->nthreads + 1, workers);
			break;
		}
	}
	if (pool->nthreads == 0) {
		hashpool_free(pool);
		return NULL;
	}
	return pool;
}

int
hashpool_submit(struct hashpool *pool, const char *hash, const char *password,
    hashpool_done_fn done, void *arg)
{
	struct hashpool_job *job;
	int                  rc = -1;

	pthread_mutex_lock(&pool->lock);
	if (pool->stopping || pool->count == pool->cap)
		goto out;
	job = &pool->ring[(pool->head + pool->count) % pool->cap];
	job->hash = hash != NULL ? xstrdup(hash) : NULL;
	job->password = xstrdup(password);
	job->done = done;
	job->arg = arg;
	pool->count++;
	pthread_cond_signal(&pool->nonempty);
	rc = 0;
out:
	pthread_mutex_unlock(&pool->lock);
	return rc;
}

unsigned
hashpool_pending(struct hashpool *pool)
{
	unsigned n;

	pthread_mutex_lock(&pool->lock);
	n = pool->count + pool->running;
	pthread_mutex_unlock(&pool->lock);
	return n;
}

void
hashpool_stop(struct hashpool *pool)
{
	unsigned i;

	pthread_mutex_lock(&pool->lock);
	if (pool->stopping) {
		pthread_mutex_unlock(&pool->lock);
		return;
	}
	pool->stopping = true;
	pthread_cond_broadcast(&pool->nonempty);
	pthread_mutex_unlock(&pool->lock);
	for (i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
}

void
hashpool_free(struct hashpool *pool)
{
	if (pool == NULL)
		return;
	hashpool_stop(pool);
	free(pool->threads);
	free(pool->ring);
	pthread_cond_destroy(&pool->nonempty);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}
