using System.Diagnostics;
using System.Runtime.InteropServices;
using NeuralNet.Distributed.Native;

namespace NeuralNet.Distributed;

/// <summary>
/// <c>MPI_COMM_WORLD</c> of Open MPI (libmpi.so.40): one rank per process, started by <c>mpirun</c>.
/// </summary>
/// <remarks>
/// <para>Create it once per process with <see cref="Initialize"/> and dispose it at the end (<c>MPI_Finalize</c>).
/// MPI allows one initialization per process, so a disposed communicator cannot be re-created.</para>
/// <para>The communicator's error handler is set to <c>MPI_ERRORS_RETURN</c> and every return code is checked, so a failed
/// call throws <see cref="MpiException"/> on the calling rank. MPI is initialized with <c>MPI_THREAD_SERIALIZED</c>: any
/// thread may run a collective, but never two threads at once (<see cref="GradientBucketReducer{T}"/> hands the
/// collectives of a step to its communication thread and takes them back when the step's reduction completes).</para>
/// <para>Fault behaviour: when a rank dies (killed, crashed, or exited without finalizing) <c>mpirun</c> terminates every
/// other rank within its kill timeout; <see cref="Run"/> turns a managed exception into a message on stderr plus
/// <c>MPI_Abort</c>, so no rank is left blocked in a collective. A rank that hangs without failing is caught by
/// <see cref="CollectiveTimeout"/> (60 s unless configured): the ranks waiting for it name it and abort the job.</para>
/// </remarks>
public sealed unsafe class MpiCommunicator : Communicator
{
    private static MpiCommunicator? _world;
    private static readonly object Gate = new();
    private readonly int _rank;
    private readonly int _size;
    private bool _finalized;
    private int _threadLevel;
    private readonly int _initThread;      // the thread that initialized MPI: the one that computes

    private MpiCommunicator(int rank, int size)
    {
        _rank = rank;
        _size = size;
        _initThread = Environment.CurrentManagedThreadId;
    }

    /// <inheritdoc/>
    public override int Rank => _rank;

    /// <inheritdoc/>
    public override int Size => _size;

    /// <summary>True when Open MPI granted <c>MPI_THREAD_SERIALIZED</c> or more (it does unless MPI was initialized
    /// elsewhere with a lower level): collectives may then run on a thread other than the one that initialized MPI.</summary>
    public override bool CollectivesOnAnyThread => _threadLevel >= MpiNative.ThreadSerialized;

    /// <summary>True when this process was started by Open MPI's <c>mpirun</c> (the <c>OMPI_COMM_WORLD_SIZE</c> variable is set).</summary>
    public static bool IsLaunchedByMpirun => Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is not null;

    /// <summary>The number of ranks on this machine (<c>OMPI_COMM_WORLD_LOCAL_SIZE</c>); 1 outside mpirun.</summary>
    public static int LocalSize =>
        int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_SIZE"), out int n) && n > 0 ? n : 1;

    /// <summary>Threads per rank so that the ranks of one machine share its cores without oversubscribing them:
    /// <c>max(1, ProcessorCount / LocalSize)</c>. Assign it to <see cref="NeuralNetSettings.MaxDegreeOfParallelism"/>.</summary>
    public static int SuggestedThreadsPerRank => Math.Max(1, Environment.ProcessorCount / LocalSize);

    /// <summary>Reports whether Open MPI's C library can be loaded here.</summary>
    /// <param name="reason">When false, why (the loader's message and the package to install).</param>
    /// <returns>True when libmpi.so.40 and all the symbols used are present.</returns>
    public static bool IsAvailable(out string? reason) => MpiNative.TryLoad(out reason);

    /// <summary>Initializes MPI (once per process) and returns <c>MPI_COMM_WORLD</c>.</summary>
    /// <returns>The world communicator; the same instance on repeated calls.</returns>
    /// <exception cref="DllNotFoundException">libmpi.so.40 is not installed; the message names the packages.</exception>
    /// <exception cref="InvalidOperationException">MPI was already finalized in this process.</exception>
    /// <exception cref="MpiException">MPI_Init or a query failed.</exception>
    /// <exception cref="ArgumentException"><see cref="CollectiveTimeoutVariable"/> is set to something other than seconds or <c>infinite</c>.</exception>
    /// <remarks>Started without <c>mpirun</c>, Open MPI runs as a singleton: rank 0 of a world of size 1.</remarks>
    public static MpiCommunicator Initialize()
    {
        lock (Gate)
        {
            if (_world is { _finalized: false }) return _world;
            MpiNative.EnsureLoaded();
            int flag = 0;
            Check(MpiNative.Finalized(&flag), "MPI_Finalized");
            if (flag != 0)
                throw new InvalidOperationException("MpiCommunicator.Initialize: MPI was already finalized in this process; MPI can be initialized only once per process.");
            Check(MpiNative.Initialized(&flag), "MPI_Initialized");
            // MPI_THREAD_SERIALIZED: GradientBucketReducer runs the collectives of a step on its communication thread
            // while the calling thread back-propagates; the two never call MPI at the same time.
            int provided = 0;
            if (flag == 0) Check(MpiNative.InitThread(null, null, MpiNative.ThreadSerialized, &provided), "MPI_Init_thread");
            else Check(MpiNative.QueryThread(&provided), "MPI_Query_thread");
            Check(MpiNative.CommSetErrhandler(MpiNative.CommWorld, MpiNative.ErrorsReturn), "MPI_Comm_set_errhandler");
            int rank = 0, size = 0;
            Check(MpiNative.CommRank(MpiNative.CommWorld, &rank), "MPI_Comm_rank");
            Check(MpiNative.CommSize(MpiNative.CommWorld, &size), "MPI_Comm_size");
            // The private channel of the collective timeout's who-is-waiting queries (MPI_Comm_dup is collective, so
            // every rank creates it here, at the same point).
            nint control;
            Check(MpiNative.CommDup(MpiNative.CommWorld, &control), "MPI_Comm_dup");
            Check(MpiNative.CommSetErrhandler(control, MpiNative.ErrorsReturn), "MPI_Comm_set_errhandler");
            _world = new MpiCommunicator(rank, size) { _control = control, _threadLevel = provided };
            if (Environment.GetEnvironmentVariable(CollectiveTimeoutVariable) is { Length: > 0 } text)
                _world.CollectiveTimeout = ParseCollectiveTimeout(text, CollectiveTimeoutVariable);
            return _world;
        }
    }

    /// <summary>
    /// Runs <paramref name="body"/> as a distributed program: initializes MPI, runs the body, finalizes; on an exception
    /// writes <c>[rank r/N] fatal: …</c> to stderr and aborts the whole job so no other rank hangs.
    /// </summary>
    /// <param name="body">The program; receives the world communicator and returns the exit code.</param>
    /// <returns>The body's exit code (an aborted job never returns).</returns>
    /// <remarks>Under <c>mpirun</c>, replaces <see cref="Console.Out"/> and <see cref="Console.Error"/> by plain writers
    /// on file descriptors 1 and 2 before anything is written: .NET would otherwise start the output with the terminal's
    /// keypad-mode escape sequence (e.g. <c>ESC[?1h ESC=</c> under <c>TERM=xterm</c>), because Open MPI forwards a rank's
    /// output through a pseudo-terminal. Also installs a SIGTERM handler that prints <c>[rank r/N] terminated by the MPI runtime</c> before the
    /// process dies, so when another rank fails the output of every rank says why it stopped.</remarks>
    public static int Run(Func<MpiCommunicator, int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        // Under mpirun standard output is Open MPI's pseudo-terminal, not the user's: write to it without .NET's terminal
        // initialization, which would prefix the output with a keypad-mode escape sequence (see PlainConsole).
        if (IsLaunchedByMpirun) PlainConsole.Install();
        var world = Initialize();
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ =>
        {
            Console.Error.WriteLine($"[rank {world.Rank}/{world.Size}] terminated by the MPI runtime (SIGTERM): another rank failed or the job was cancelled; see that rank's message.");
            Console.Error.Flush();
        });
        int code;
        try
        {
            code = body(world);
        }
        catch (Exception e)
        {
            Console.Out.Flush();
            Console.Error.WriteLine($"[rank {world.Rank}/{world.Size}] fatal: {e.GetType().Name}: {e.Message}");
            Console.Error.WriteLine(e.StackTrace);
            Console.Error.Flush();
            world.Abort(1, e.Message);
            return 1;
        }
        world.Dispose();
        return code;
    }

    /// <inheritdoc/>
    public override void AllReduce<T>(ReadOnlySpan<T> send, Span<T> receive, ReduceOperation operation)
    {
        CheckReducible<T>();
        if (send.Length != receive.Length)
            throw new ArgumentException($"MpiCommunicator.AllReduce: send has {send.Length} elements, receive {receive.Length}.", nameof(receive));
        CheckNoOverlap<T>(send, receive, "AllReduce");
        CheckLive();
        if (send.IsEmpty) return;
        fixed (T* s = send)
        fixed (T* r = receive)
        {
            if (!Timed) Check(MpiNative.Allreduce(s, r, send.Length, DataType<T>(), Op(operation), MpiNative.CommWorld), "MPI_Allreduce");
            else
            {
                nint request;
                Check(MpiNative.Iallreduce(s, r, send.Length, DataType<T>(), Op(operation), MpiNative.CommWorld, &request), "MPI_Iallreduce");
                Wait(ref request, "MPI_Allreduce");
            }
        }
    }

    /// <inheritdoc/>
    public override void AllReduce<T>(Span<T> buffer, ReduceOperation operation)
    {
        CheckReducible<T>();
        CheckLive();
        if (buffer.IsEmpty) return;
        fixed (T* r = buffer)
        {
            if (!Timed) Check(MpiNative.Allreduce((void*)MpiNative.InPlace, r, buffer.Length, DataType<T>(), Op(operation), MpiNative.CommWorld), "MPI_Allreduce");
            else
            {
                nint request;
                Check(MpiNative.Iallreduce((void*)MpiNative.InPlace, r, buffer.Length, DataType<T>(), Op(operation), MpiNative.CommWorld, &request), "MPI_Iallreduce");
                Wait(ref request, "MPI_Allreduce");
            }
        }
    }

    /// <inheritdoc/>
    public override void AllGather<T>(ReadOnlySpan<T> send, Span<T> receive)
    {
        if ((long)send.Length * _size != receive.Length)
            throw new ArgumentException($"MpiCommunicator.AllGather: receive must hold {_size} × {send.Length} elements but has {receive.Length}.", nameof(receive));
        CheckNoOverlap<T>(send, receive, "AllGather");
        CheckLive();
        if (send.IsEmpty) return;
        int bytes = checked(send.Length * sizeof(T));
        fixed (T* s = send)
        fixed (T* r = receive)
        {
            if (!Timed) Check(MpiNative.Allgather(s, bytes, MpiNative.Byte, r, bytes, MpiNative.Byte, MpiNative.CommWorld), "MPI_Allgather");
            else
            {
                nint request;
                Check(MpiNative.Iallgather(s, bytes, MpiNative.Byte, r, bytes, MpiNative.Byte, MpiNative.CommWorld, &request), "MPI_Iallgather");
                Wait(ref request, "MPI_Allgather");
            }
        }
    }

    /// <inheritdoc/>
    public override void AllToAll<T>(ReadOnlySpan<T> send, Span<T> receive)
    {
        if (send.Length != receive.Length || send.Length % _size != 0)
            throw new ArgumentException($"MpiCommunicator.AllToAll: send and receive must both hold {_size} equal blocks, got {send.Length} and {receive.Length} elements.", nameof(receive));
        CheckNoOverlap<T>(send, receive, "AllToAll");
        CheckLive();
        if (send.IsEmpty) return;
        int bytes = checked(send.Length / _size * sizeof(T));
        fixed (T* s = send)
        fixed (T* r = receive)
        {
            if (!Timed) Check(MpiNative.Alltoall(s, bytes, MpiNative.Byte, r, bytes, MpiNative.Byte, MpiNative.CommWorld), "MPI_Alltoall");
            else
            {
                nint request;
                Check(MpiNative.Ialltoall(s, bytes, MpiNative.Byte, r, bytes, MpiNative.Byte, MpiNative.CommWorld, &request), "MPI_Ialltoall");
                Wait(ref request, "MPI_Alltoall");
            }
        }
    }

    /// <inheritdoc/>
    public override void Broadcast<T>(Span<T> buffer, int root = 0)
    {
        CheckRank(root);
        CheckLive();
        if (buffer.IsEmpty) return;
        int bytes = checked(buffer.Length * sizeof(T));
        fixed (T* b = buffer)
        {
            if (!Timed) Check(MpiNative.Bcast(b, bytes, MpiNative.Byte, root, MpiNative.CommWorld), "MPI_Bcast");
            else
            {
                nint request;
                Check(MpiNative.Ibcast(b, bytes, MpiNative.Byte, root, MpiNative.CommWorld, &request), "MPI_Ibcast");
                Wait(ref request, "MPI_Bcast");
            }
        }
    }

    /// <inheritdoc/>
    public override void Barrier()
    {
        CheckLive();
        if (!Timed) Check(MpiNative.Barrier(MpiNative.CommWorld), "MPI_Barrier");
        else
        {
            nint request;
            Check(MpiNative.Ibarrier(MpiNative.CommWorld, &request), "MPI_Ibarrier");
            Wait(ref request, "MPI_Barrier");
        }
    }

    /// <summary>The wall-clock time in seconds (<c>MPI_Wtime</c>).</summary>
    public static double WallTime()
    {
        MpiNative.EnsureLoaded();
        return MpiNative.Wtime();
    }

    /// <inheritdoc/>
    public override void Abort(int errorCode, string reason)
    {
        Console.Out.Flush();
        Console.Error.Flush();
        MpiNative.Abort(MpiNative.CommWorld, errorCode);
        // MPI_Abort does not return under mpirun; a singleton may: make sure the process ends anyway.
        Environment.Exit(errorCode);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        lock (Gate)
        {
            if (_finalized) return;
            _finalized = true;
            Check(MpiNative.Finalize(), "MPI_Finalize");
        }
    }

    /// <summary>The environment variable that sets the initial <see cref="CollectiveTimeout"/> of every rank: seconds
    /// (<c>NEURALNET_COLLECTIVE_TIMEOUT=120</c>, fractions allowed) or <c>infinite</c>.</summary>
    public const string CollectiveTimeoutVariable = "NEURALNET_COLLECTIVE_TIMEOUT";

    /// <summary>The <see cref="CollectiveTimeout"/> of a new communicator when <see cref="CollectiveTimeoutVariable"/> is not set: 60 s.</summary>
    public static readonly TimeSpan DefaultCollectiveTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long one collective (all-reduce, all-gather, all-to-all, broadcast, barrier) may wait before this rank gives up
    /// on the job. On by default (<see cref="DefaultCollectiveTimeout"/>, or <see cref="CollectiveTimeoutVariable"/>), so
    /// a rank that hangs without crashing (a deadlock, an endless loop, a process stopped by SIGSTOP) ends the job
    /// instead of blocking it forever.
    /// </summary>
    /// <remarks>
    /// <para>With a finite timeout every collective is started non-blocking (<c>MPI_Iallreduce</c>, …) and this thread
    /// polls it with <c>MPI_Test</c>. When the time is up, the rank asks every other rank, on a private duplicate of
    /// <c>MPI_COMM_WORLD</c>, which collective it is waiting in; ranks that are waiting answer from their own polling
    /// loop. After a short grace period (a quarter of the timeout, at most 2 s) the rank prints
    /// <c>[rank r/N] fatal: MPI_Allreduce (collective #k) did not complete within … s: rank(s) 1 did not arrive …</c>
    /// to stderr and calls <c>MPI_Abort</c> with exit code 3, which ends every rank. A rank that is stopped, hung or
    /// still computing cannot answer, so it is the one named.</para>
    /// <para>Set it well above the longest legitimate wait, including a step where one rank does extra work (rank 0
    /// writing a checkpoint or evaluating) while the others wait in the next collective.
    /// <see cref="Timeout.InfiniteTimeSpan"/> waits as long as MPI does, with plain blocking collectives.</para>
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive and not infinite.</exception>
    public TimeSpan CollectiveTimeout
    {
        get => _collectiveTimeout;
        set
        {
            if (value != Timeout.InfiniteTimeSpan && value <= TimeSpan.Zero)
                throw new ArgumentOutOfRangeException(nameof(value), value, "MpiCommunicator.CollectiveTimeout must be positive or Timeout.InfiniteTimeSpan.");
            _collectiveTimeout = value;
        }
    }

    /// <summary>Parses a <see cref="CollectiveTimeoutVariable"/> or command-line value: seconds, or <c>infinite</c>.</summary>
    /// <param name="text">The text, e.g. <c>60</c>, <c>2.5</c> or <c>infinite</c>.</param>
    /// <param name="source">Where the text came from, for the message (e.g. the variable or option name).</param>
    /// <returns>The timeout; <see cref="Timeout.InfiniteTimeSpan"/> for <c>infinite</c>.</returns>
    /// <exception cref="ArgumentException">The text is neither a positive number of seconds nor <c>infinite</c>.</exception>
    public static TimeSpan ParseCollectiveTimeout(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(source);
        string t = text.Trim();
        if (t.Equals("infinite", StringComparison.OrdinalIgnoreCase)) return Timeout.InfiniteTimeSpan;
        if (double.TryParse(t, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double seconds)
            && double.IsFinite(seconds) && seconds > 0 && seconds <= int.MaxValue / 1000.0)
            return TimeSpan.FromSeconds(seconds);
        throw new ArgumentException($"{source}: '{text}' is not a collective timeout; give a positive number of seconds (e.g. 60) or 'infinite'.");
    }

    private const int QueryTag = 1, ReplyTag = 2;
    private TimeSpan _collectiveTimeout = DefaultCollectiveTimeout;
    private nint _control;                 // a duplicate of MPI_COMM_WORLD for the who-is-waiting queries
    private long _collectiveNumber;        // collectives started by this rank, counting from 1
    private bool _inCollective;

    private bool Timed => _collectiveTimeout != Timeout.InfiniteTimeSpan;

    /// <summary>Polls <paramref name="request"/> until it completes, answering other ranks' queries meanwhile; past
    /// <see cref="CollectiveTimeout"/>, finds out which ranks are missing and aborts the job.</summary>
    private void Wait(ref nint request, string name)
    {
        long number = ++_collectiveNumber;
        long start = Stopwatch.GetTimestamp();
        long deadline = start + (long)(_collectiveTimeout.TotalSeconds * Stopwatch.Frequency);
        long nextQueryCheck = start + Stopwatch.Frequency / 100;
        // On another thread (GradientBucketReducer's communication thread) the calling thread is back-propagating on the
        // same cores: poll briefly, then sleep between polls instead of yielding, so the wait does not take a core
        // from the computation it is meant to overlap.
        bool background = Environment.CurrentManagedThreadId != _initThread;
        int spins = background ? 200 : 2000;
        _inCollective = true;
        try
        {
            for (int spin = 0; ; spin++)
            {
                int done = 0;
                fixed (nint* r = &request) Check(MpiNative.Test(r, &done, null), "MPI_Test");
                if (done != 0) return;
                // The first microseconds decide the latency of a small collective: poll tightly, then give the core away
                // between polls (ranks often share cores with each other and with the kernels' worker threads).
                if (spin < spins) continue;
                if (background) MpiNative.SleepMicroseconds(20);
                else Thread.Yield();
                if ((spin & (background ? 7 : 63)) != 0) continue;
                long now = Stopwatch.GetTimestamp();
                if (now >= nextQueryCheck)
                {
                    AnswerQueries();
                    nextQueryCheck = now + Stopwatch.Frequency / 100;
                }
                if (now > deadline) TimedOut(name, number, ref request);
            }
        }
        finally
        {
            _inCollective = false;
        }
    }

    /// <summary>Answers every pending "which collective are you in?" query with [collective number, waiting 1/0].</summary>
    private void AnswerQueries()
    {
        nint control = Control();
        while (true)
        {
            int flag = 0;
            MpiNative.Status status;
            Check(MpiNative.Iprobe(MpiNative.AnySource, QueryTag, control, &flag, &status), "MPI_Iprobe");
            if (flag == 0) return;
            long question;
            Check(MpiNative.Recv(&question, 1, MpiNative.Long, status.Source, QueryTag, control, null), "MPI_Recv");
            // The answer must outlive this call (the send completes in the background); this path runs only while a
            // job is failing, so the few bytes are never freed.
            long* answer = (long*)System.Runtime.InteropServices.NativeMemory.Alloc(2 * sizeof(long));
            answer[0] = _collectiveNumber;
            answer[1] = _inCollective ? 1 : 0;
            nint sent;
            Check(MpiNative.Isend(answer, 2, MpiNative.Long, status.Source, ReplyTag, control, &sent), "MPI_Isend");
        }
    }

    private void TimedOut(string name, long number, ref nint request)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        nint control = Control();
        int n = _size;
        // Ask every other rank where it is, and wait a little for the answers while answering the others' questions.
        long* question = (long*)System.Runtime.InteropServices.NativeMemory.Alloc(sizeof(long));
        *question = number;
        long* answers = (long*)System.Runtime.InteropServices.NativeMemory.AllocZeroed((nuint)(2 * n * sizeof(long)));
        nint* receives = (nint*)System.Runtime.InteropServices.NativeMemory.AllocZeroed((nuint)(n * sizeof(nint)));
        bool* answered = stackalloc bool[n];
        for (int r = 0; r < n; r++)
        {
            answered[r] = r == _rank;
            if (r == _rank) continue;
            nint sent;
            Check(MpiNative.Isend(question, 1, MpiNative.Long, r, QueryTag, control, &sent), "MPI_Isend");
            Check(MpiNative.Irecv(answers + 2 * r, 2, MpiNative.Long, r, ReplyTag, control, receives + r), "MPI_Irecv");
        }
        double grace = Math.Clamp(_collectiveTimeout.TotalSeconds / 4, 0.2, 2);
        long graceEnd = Stopwatch.GetTimestamp() + (long)(grace * Stopwatch.Frequency);
        int pending = n - 1;
        while (pending > 0 && Stopwatch.GetTimestamp() < graceEnd)
        {
            for (int r = 0; r < n; r++)
            {
                if (answered[r]) continue;
                int flag = 0;
                Check(MpiNative.Test(receives + r, &flag, null), "MPI_Test");
                if (flag != 0) { answered[r] = true; pending--; }
            }
            AnswerQueries();
            int done = 0;
            fixed (nint* q = &request) MpiNative.Test(q, &done, null);
            Thread.Sleep(1);
        }
        var missing = new List<int>();
        var waiting = new List<int>();
        var behind = new List<string>();
        for (int r = 0; r < n; r++)
        {
            if (r == _rank) continue;
            if (!answered[r]) missing.Add(r);
            else if (answers[2 * r] < number || answers[2 * r + 1] == 0)
                behind.Add(string.Create(inv, $"rank {r} (at collective #{answers[2 * r]}, {(answers[2 * r + 1] == 0 ? "not waiting in a collective" : "waiting in an earlier one")})"));
            else waiting.Add(r);
        }
        string absent = missing.Count == 0 && behind.Count == 0
            ? "every rank answered as waiting, so the collective is stuck in the transport"
            : string.Join("; ", new[]
              {
                  missing.Count == 0 ? null : $"{Ranks(missing)} did not arrive and did not answer within {grace.ToString("0.##", inv)} s (hung, stopped or far slower)",
                  behind.Count == 0 ? null : string.Join(", ", behind) + " did not arrive",
              }.Where(x => x is not null));
        Console.Out.Flush();
        string others = waiting.Count > 0 ? $"; {Ranks(waiting)} waiting in it too" : "";
        Console.Error.WriteLine(string.Create(inv,
            $"[rank {_rank}/{n}] fatal: {name} (collective #{number}) did not complete within {_collectiveTimeout.TotalSeconds:0.###} s (MpiCommunicator.CollectiveTimeout): {absent}{others}. Aborting the job."));
        Console.Error.Flush();
        MpiNative.Abort(MpiNative.CommWorld, 3);
        Environment.Exit(3);
    }

    private static string Ranks(List<int> ranks) => (ranks.Count == 1 ? "rank " : "ranks ") + string.Join(", ", ranks);

    private nint Control() => _control;

    private void CheckLive()
    {
        if (_finalized) throw new ObjectDisposedException(nameof(MpiCommunicator), "MpiCommunicator: MPI has been finalized (the communicator was disposed).");
    }

    private static nint DataType<T>() where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return MpiNative.Float;
        if (typeof(T) == typeof(double)) return MpiNative.Double;
        if (typeof(T) == typeof(int)) return MpiNative.Int;
        return MpiNative.Long;
    }

    private static nint Op(ReduceOperation operation) => operation switch
    {
        ReduceOperation.Sum => MpiNative.OpSum,
        ReduceOperation.Max => MpiNative.OpMax,
        ReduceOperation.Min => MpiNative.OpMin,
        _ => throw new ArgumentOutOfRangeException(nameof(operation), operation, "MpiCommunicator: unknown reduce operation."),
    };

    private static void Check(int code, string function)
    {
        if (code != MpiNative.Success) throw new MpiException(function, code, MpiNative.DescribeError(code));
    }
}
