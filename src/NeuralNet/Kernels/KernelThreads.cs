using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace NeuralNet.Kernels;

/// <summary>
/// A unit of parallel work: <see cref="Execute"/> is called once for every part in [0, parts).
/// Job objects are cached per calling thread by the kernels that use them, so a parallel call allocates nothing.
/// </summary>
internal abstract class ParallelJob
{
    /// <summary>Runs one part. Parts must write disjoint outputs, so results do not depend on the number of threads.</summary>
    public abstract void Execute(int part, int parts);
}

/// <summary>
/// A small persistent pool of worker threads for the kernels. <see cref="Run"/> executes part 0 on the calling
/// thread and parts 1..parts−1 on workers, then waits for all of them.
/// </summary>
/// <remarks>
/// Why not <c>Parallel.For</c>: it allocates per call (closures, tasks) and its start-up latency is too high for the
/// 50–500 µs GEMMs of MNIST-sized layers. Workers spin briefly after each job (training calls kernels back to back),
/// then sleep on a semaphore. Only one parallel call runs at a time; a call arriving while the pool is busy runs its
/// parts one after another on its own thread, which gives the same result because parts own disjoint outputs.
/// </remarks>
internal static class KernelThreads
{
    private const long SpinMicroseconds = 200;

    /// <summary>
    /// How many parts a pass over <paramref name="length"/> elements gets: one below <paramref name="minLength"/>
    /// (waking a worker costs more), otherwise up to <see cref="NeuralNetSettings.MaxDegreeOfParallelism"/> with at least
    /// <paramref name="minLength"/>/2 elements each, and at most <paramref name="units"/> (when parts must hold whole units).
    /// </summary>
    public static int PartCount(int length, int minLength, int units = int.MaxValue) =>
        length < minLength ? 1
            : Math.Min(Math.Min(NeuralNetSettings.MaxDegreeOfParallelism, units), length / (minLength / 2));

    /// <summary>
    /// The elements of part <paramref name="part"/> of <paramref name="parts"/> when <paramref name="length"/> elements are
    /// cut into contiguous parts of whole <paramref name="block"/>-element blocks (only the last part may end mid-block);
    /// the count is zero or negative for a part past the end.
    /// </summary>
    public static (int Start, int Count) PartRange(int length, int part, int parts, int block)
    {
        int chunk = ((length + parts - 1) / parts + block - 1) / block * block;
        int start = part * chunk;
        return (start, Math.Min(chunk, length - start));
    }

    private sealed class Worker
    {
        public readonly SemaphoreSlim Wake = new(0, int.MaxValue);
        public readonly ManualResetEventSlim Ready = new(false);   // set once the thread owns its buffers
        public int Sleeping;
        public long Generation;   // the call this worker was last woken for; 0 = nothing to do
    }

    private static readonly object s_growLock = new();
    private static Worker[] s_workers = [];
    private static int s_busy;
    private static long s_generationCounter;
    // Bits 32..63: the generation of the current call; 16..31: its number of parts; 0..15: the next unclaimed part.
    // One word, so a late worker can never pair one call's part count with another call's claims.
    private static long s_claim;
    private static int s_completed;
    private static ParallelJob? s_job;
    private static Exception? s_error;

    /// <summary>Runs <paramref name="job"/> for every part in [0, <paramref name="parts"/>) and returns when all are done.</summary>
    /// <remarks>
    /// Parts are claimed dynamically (the caller included), so a worker descheduled by a busy machine costs nothing:
    /// the caller simply runs the remaining parts itself. Which thread runs a part never changes its result.
    /// </remarks>
    public static void Run(ParallelJob job, int parts)
    {
        if (parts <= 1)
        {
            job.Execute(0, 1);
            return;
        }
        if (parts > 0xFFFF || Interlocked.CompareExchange(ref s_busy, 1, 0) != 0)
        {
            // The pool is in use (a nested or concurrent call): same partition, run sequentially.
            for (int p = 0; p < parts; p++) job.Execute(p, parts);
            return;
        }
        try
        {
            Cpu.EnsurePackBuffers();   // the caller may run any part too
            EnsureWorkers(parts - 1);
            long generation = ++s_generationCounter;
            s_error = null;
            s_job = job;
            Volatile.Write(ref s_completed, 0);
            Interlocked.Exchange(ref s_claim, (generation << 32) | ((long)parts << 16));
            Worker[] workers = s_workers;
            for (int w = 0; w < parts - 1; w++)
            {
                Worker worker = workers[w];
                Interlocked.Exchange(ref worker.Generation, generation);
                if (Interlocked.Exchange(ref worker.Sleeping, 0) == 1) worker.Wake.Release();
            }

            RunParts(generation);

            var spin = new SpinWait();
            while (Volatile.Read(ref s_completed) != parts) spin.SpinOnce(sleep1Threshold: -1);
            s_job = null;
            if (s_error is { } error) ExceptionDispatchInfo.Capture(error).Throw();
        }
        finally
        {
            Volatile.Write(ref s_busy, 0);
        }
    }

    /// <summary>Claims and runs parts of call <paramref name="generation"/> until none are left.</summary>
    private static void RunParts(long generation)
    {
        while (true)
        {
            long claim = Volatile.Read(ref s_claim);
            if (claim >> 32 != generation) return;            // a later call: nothing of ours is left
            int part = (int)(claim & 0xFFFF);
            int parts = (int)((claim >> 16) & 0xFFFF);
            if (part >= parts) return;
            if (Interlocked.CompareExchange(ref s_claim, claim + 1, claim) != claim) continue;
            // The part is ours and the caller waits for it, so s_job is this call's job.
            try { s_job!.Execute(part, parts); }
            catch (Exception e) { Interlocked.CompareExchange(ref s_error, e, null); }
            Interlocked.Increment(ref s_completed);
        }
    }

    /// <summary>
    /// Starts workers until there are <paramref name="count"/>, and returns only when every new worker has allocated its
    /// per-thread buffers, so that from the first parallel call on no pool thread allocates, whatever parts it claims.
    /// </summary>
    private static void EnsureWorkers(int count)
    {
        if (s_workers.Length >= count) return;
        lock (s_growLock)
        {
            var grown = new Worker[count];
            Array.Copy(s_workers, grown, s_workers.Length);
            for (int w = s_workers.Length; w < count; w++)
            {
                var worker = new Worker();
                grown[w] = worker;
                var thread = new Thread(() => WorkerLoop(worker))
                {
                    IsBackground = true,
                    Name = $"NeuralNet kernel worker {w + 1}",
                };
                thread.Start();
            }
            for (int w = s_workers.Length; w < count; w++) grown[w].Ready.Wait();
            s_workers = grown;
        }
    }

    private static void WorkerLoop(Worker self)
    {
        // Before anything else: a worker that claims no packed GEMM part during warm-up must not allocate later.
        Cpu.EnsurePackBuffers();
        self.Ready.Set();
        long spinTicks = Stopwatch.Frequency * SpinMicroseconds / 1_000_000;
        while (true)
        {
            if (!SpinForWork(self, spinTicks))
            {
                // Announce sleep, then re-check: either we see the work or the dispatcher sees Sleeping == 1 and releases.
                Interlocked.Exchange(ref self.Sleeping, 1);
                if (Volatile.Read(ref self.Generation) != 0)
                {
                    if (Interlocked.Exchange(ref self.Sleeping, 0) == 0) self.Wake.Wait(); // a release is on its way
                }
                else
                {
                    self.Wake.Wait();
                }
            }
            long generation = Interlocked.Exchange(ref self.Generation, 0);
            if (generation != 0) RunParts(generation);
        }
    }

    private static bool SpinForWork(Worker self, long spinTicks)
    {
        long start = Stopwatch.GetTimestamp();
        int i = 0;
        while (Volatile.Read(ref self.Generation) == 0)
        {
            Thread.SpinWait(8);
            if ((++i & 63) == 0 && Stopwatch.GetTimestamp() - start > spinTicks) return false;
        }
        return true;
    }
}
