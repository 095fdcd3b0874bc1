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
/// call throws <see cref="MpiException"/> on the calling rank. Call MPI only from the thread that initialized it
/// (<c>MPI_THREAD_SINGLE</c> semantics).</para>
/// <para>Fault behaviour: when a rank dies (killed, crashed, or exited without finalizing) <c>mpirun</c> terminates every
/// other rank within its kill timeout; <see cref="Run"/> turns a managed exception into a message on stderr plus
/// <c>MPI_Abort</c>, so no rank is left blocked in a collective. A rank that hangs without failing is caught by
/// <see cref="CollectiveTimeout"/> when it is set: the ranks waiting for it give up and the job ends.</para>
/// </remarks>
public sealed unsafe class MpiCommunicator : Communicator
{
    private static MpiCommunicator? _world;
    private static readonly object Gate = new();
    private readonly int _rank;
    private readonly int _size;
    private bool _finalized;

    private MpiCommunicator(int rank, int size)
    {
        _rank = rank;
        _size = size;
    }

    /// <inheritdoc/>
    public override int Rank => _rank;

    /// <inheritdoc/>
    public override int Size => _size;

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
            if (flag == 0) Check(MpiNative.Init(null, null), "MPI_Init");
            Check(MpiNative.CommSetErrhandler(MpiNative.CommWorld, MpiNative.ErrorsReturn), "MPI_Comm_set_errhandler");
            int rank = 0, size = 0;
            Check(MpiNative.CommRank(MpiNative.CommWorld, &rank), "MPI_Comm_rank");
            Check(MpiNative.CommSize(MpiNative.CommWorld, &size), "MPI_Comm_size");
            _world = new MpiCommunicator(rank, size);
            return _world;
        }
    }

    /// <summary>
    /// Runs <paramref name="body"/> as a distributed program: initializes MPI, runs the body, finalizes; on an exception
    /// writes <c>[rank r/N] fatal: …</c> to stderr and aborts the whole job so no other rank hangs.
    /// </summary>
    /// <param name="body">The program; receives the world communicator and returns the exit code.</param>
    /// <returns>The body's exit code (an aborted job never returns).</returns>
    /// <remarks>Also installs a SIGTERM handler that prints <c>[rank r/N] terminated by the MPI runtime</c> before the
    /// process dies, so when another rank fails the output of every rank says why it stopped.</remarks>
    public static int Run(Func<MpiCommunicator, int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
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
        using var scope = TimedCollective("MPI_Allreduce");
        fixed (T* s = send)
        fixed (T* r = receive)
            Check(MpiNative.Allreduce(s, r, send.Length, DataType<T>(), Op(operation), MpiNative.CommWorld), "MPI_Allreduce");
    }

    /// <inheritdoc/>
    public override void AllReduce<T>(Span<T> buffer, ReduceOperation operation)
    {
        CheckReducible<T>();
        CheckLive();
        if (buffer.IsEmpty) return;
        using var scope = TimedCollective("MPI_Allreduce");
        fixed (T* r = buffer)
            Check(MpiNative.Allreduce((void*)MpiNative.InPlace, r, buffer.Length, DataType<T>(), Op(operation), MpiNative.CommWorld), "MPI_Allreduce");
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
        using var scope = TimedCollective("MPI_Allgather");
        fixed (T* s = send)
        fixed (T* r = receive)
            Check(MpiNative.Allgather(s, bytes, MpiNative.Byte, r, bytes, MpiNative.Byte, MpiNative.CommWorld), "MPI_Allgather");
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
        using var scope = TimedCollective("MPI_Alltoall");
        fixed (T* s = send)
        fixed (T* r = receive)
            Check(MpiNative.Alltoall(s, bytes, MpiNative.Byte, r, bytes, MpiNative.Byte, MpiNative.CommWorld), "MPI_Alltoall");
    }

    /// <inheritdoc/>
    public override void Broadcast<T>(Span<T> buffer, int root = 0)
    {
        CheckRank(root);
        CheckLive();
        if (buffer.IsEmpty) return;
        int bytes = checked(buffer.Length * sizeof(T));
        using var scope = TimedCollective("MPI_Bcast");
        fixed (T* b = buffer)
            Check(MpiNative.Bcast(b, bytes, MpiNative.Byte, root, MpiNative.CommWorld), "MPI_Bcast");
    }

    /// <inheritdoc/>
    public override void Barrier()
    {
        CheckLive();
        using var scope = TimedCollective("MPI_Barrier");
        Check(MpiNative.Barrier(MpiNative.CommWorld), "MPI_Barrier");
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

    /// <summary>
    /// How long one collective (all-reduce, all-gather, all-to-all, broadcast, barrier) may take before this rank gives up
    /// on the job: it prints <c>[rank r/N] fatal: MPI_… did not complete within …</c> to stderr and exits with code 3,
    /// and <c>mpirun</c>, seeing a rank end without finalizing, stops every other rank. So a rank that hangs without
    /// crashing (a deadlock, an endless loop, a stopped process) ends the job instead of blocking it forever.
    /// <see cref="Timeout.InfiniteTimeSpan"/> (the default) waits as long as MPI does.
    /// </summary>
    /// <remarks>Set it well above the longest legitimate wait, including a step where one rank does extra work (rank 0
    /// writing a checkpoint or evaluating) while the others wait in the next collective. Checked by a background thread
    /// every 100 ms or so; it makes no MPI call.</remarks>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive and not infinite.</exception>
    public TimeSpan CollectiveTimeout
    {
        get => _collectiveTimeout;
        set
        {
            if (value != Timeout.InfiniteTimeSpan && value <= TimeSpan.Zero)
                throw new ArgumentOutOfRangeException(nameof(value), value, "MpiCommunicator.CollectiveTimeout must be positive or Timeout.InfiniteTimeSpan.");
            _collectiveTimeout = value;
            if (value != Timeout.InfiniteTimeSpan) EnsureWatchdog();
        }
    }

    private TimeSpan _collectiveTimeout = Timeout.InfiniteTimeSpan;
    private long _collectiveDeadline = long.MaxValue;   // Stopwatch ticks; MaxValue = not inside a timed collective
    private string _collectiveName = "";
    private Thread? _watchdog;

    /// <summary>Starts the <see cref="CollectiveTimeout"/> clock for one collective; disposing the scope stops it.</summary>
    private CollectiveScope TimedCollective(string name)
    {
        TimeSpan timeout = _collectiveTimeout;
        if (timeout == Timeout.InfiniteTimeSpan) return default;
        _collectiveName = name;
        Volatile.Write(ref _collectiveDeadline, Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency));
        return new CollectiveScope(this);
    }

    private readonly ref struct CollectiveScope(MpiCommunicator? owner)
    {
        public void Dispose()
        {
            if (owner is not null) Volatile.Write(ref owner._collectiveDeadline, long.MaxValue);
        }
    }

    private void EnsureWatchdog()
    {
        lock (Gate)
        {
            if (_watchdog is not null) return;
            _watchdog = new Thread(Watch) { IsBackground = true, Name = "NeuralNet MPI collective watchdog" };
            _watchdog.Start();
        }
    }

    private void Watch()
    {
        while (true)
        {
            Thread.Sleep(100);
            long deadline = Volatile.Read(ref _collectiveDeadline);
            if (deadline == long.MaxValue || Stopwatch.GetTimestamp() <= deadline) continue;
            Console.Out.Flush();
            Console.Error.WriteLine($"[rank {_rank}/{_size}] fatal: {_collectiveName} did not complete within " +
                $"{_collectiveTimeout.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)} s " +
                "(MpiCommunicator.CollectiveTimeout): another rank is hung, stopped or far slower. Ending this rank so that mpirun ends the job.");
            Console.Error.Flush();
            Environment.Exit(3);
        }
    }

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
