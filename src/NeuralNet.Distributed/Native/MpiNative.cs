using System.Runtime.InteropServices;
using System.Text;

namespace NeuralNet.Distributed.Native;

/// <summary>
/// The slice of Open MPI's C API (libmpi.so.40, Open MPI 4.x) that data-parallel training needs, bound through function
/// pointers resolved from the loaded library.
/// </summary>
/// <remarks>
/// <para>In Open MPI's ABI the handle types (<c>MPI_Comm</c>, <c>MPI_Datatype</c>, <c>MPI_Op</c>, <c>MPI_Errhandler</c>) are
/// pointers, and the predefined handles are the addresses of exported global objects: <c>MPI_COMM_WORLD</c> is
/// <c>&amp;ompi_mpi_comm_world</c>, <c>MPI_FLOAT</c> is <c>&amp;ompi_mpi_float</c>, <c>MPI_SUM</c> is <c>&amp;ompi_mpi_op_sum</c>.
/// <see cref="NativeLibrary.GetExport"/> returns exactly those addresses. <c>MPI_IN_PLACE</c> is <c>(void*)1</c>.</para>
/// <para>The library is opened with <c>RTLD_GLOBAL</c> through libc's <c>dlopen</c>, because Open MPI loads its own
/// components (<c>mca_*.so</c>) later and some of them resolve symbols from libmpi/libopen-pal in the global scope.</para>
/// </remarks>
internal static unsafe class MpiNative
{
    /// <summary>The soname of Open MPI 4.x's C library (Debian/Ubuntu package <c>libopenmpi3</c>, pulled in by <c>openmpi-bin</c>).</summary>
    public const string LibraryName = "libmpi.so.40";

    public const int Success = 0;
    public const int MaxErrorString = 256;
    /// <summary>MPI_THREAD_SERIALIZED in Open MPI's mpi.h: any thread may call MPI, one at a time.</summary>
    public const int ThreadSerialized = 2;
    public static readonly nint InPlace = 1;

    private static readonly object Gate = new();
    private static bool _loaded;

    public static nint Handle { get; private set; }

    public static nint CommWorld { get; private set; }
    public static nint Float { get; private set; }
    public static nint Double { get; private set; }
    public static nint Int { get; private set; }
    public static nint Long { get; private set; }
    public static nint Byte { get; private set; }
    public static nint OpSum { get; private set; }
    public static nint OpMax { get; private set; }
    public static nint OpMin { get; private set; }
    public static nint ErrorsReturn { get; private set; }

    public static delegate* unmanaged<int*, byte***, int> Init;
    public static delegate* unmanaged<int*, int> Initialized;
    public static delegate* unmanaged<int*, byte***, int, int*, int> InitThread;
    public static delegate* unmanaged<int*, int> QueryThread;
    public static delegate* unmanaged<int> Finalize;
    public static delegate* unmanaged<int*, int> Finalized;
    public static delegate* unmanaged<nint, int*, int> CommRank;
    public static delegate* unmanaged<nint, int*, int> CommSize;
    public static delegate* unmanaged<nint, nint, int> CommSetErrhandler;
    public static delegate* unmanaged<void*, void*, int, nint, nint, nint, int> Allreduce;
    public static delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int> Allgather;
    public static delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int> Alltoall;
    public static delegate* unmanaged<void*, int, nint, int, nint, int> Bcast;
    public static delegate* unmanaged<nint, int> Barrier;
    public static delegate* unmanaged<nint, int, int> Abort;
    public static delegate* unmanaged<int, byte*, int*, int> ErrorString;
    public static delegate* unmanaged<double> Wtime;
    public static delegate* unmanaged<nint, nint*, int> CommDup;
    public static delegate* unmanaged<void*, void*, int, nint, nint, nint, nint*, int> Iallreduce;
    public static delegate* unmanaged<void*, int, nint, void*, int, nint, nint, nint*, int> Iallgather;
    public static delegate* unmanaged<void*, int, nint, void*, int, nint, nint, nint*, int> Ialltoall;
    public static delegate* unmanaged<void*, int, nint, int, nint, nint*, int> Ibcast;
    public static delegate* unmanaged<nint, nint*, int> Ibarrier;
    public static delegate* unmanaged<nint*, int*, Status*, int> Test;
    public static delegate* unmanaged<void*, int, nint, int, int, nint, nint*, int> Isend;
    public static delegate* unmanaged<void*, int, nint, int, int, nint, nint*, int> Irecv;
    public static delegate* unmanaged<void*, int, nint, int, int, nint, Status*, int> Recv;
    public static delegate* unmanaged<int, int, nint, int*, Status*, int> Iprobe;

    /// <summary><c>MPI_ANY_SOURCE</c> in Open MPI.</summary>
    public const int AnySource = -1;

    /// <summary>Open MPI's <c>MPI_Status</c>: the three public fields, then two private ones.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Status
    {
        public int Source;
        public int Tag;
        public int Error;
        public int Cancelled;
        public nuint Count;
    }

    /// <summary>True when libmpi.so.40 can be loaded on this machine (it is loaded as a side effect).</summary>
    public static bool TryLoad(out string? error)
    {
        try
        {
            EnsureLoaded();
            error = null;
            return true;
        }
        catch (DllNotFoundException e)
        {
            error = e.Message;
            return false;
        }
    }

    /// <summary>Sleeps for about <paramref name="microseconds"/> (plus the kernel's timer slack): a poll interval finer
    /// than <see cref="Thread.Sleep(int)"/>'s milliseconds.</summary>
    public static void SleepMicroseconds(uint microseconds) => usleep(microseconds);

    [DllImport("libc", EntryPoint = "usleep")]
    private static extern int usleep(uint microseconds);

    /// <summary>Loads the library and resolves every symbol once.</summary>
    /// <exception cref="DllNotFoundException">libmpi.so.40 or one of the symbols is missing; the message says which package to install.</exception>
    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (_loaded) return;
            if (!OperatingSystem.IsLinux() && !OperatingSystem.IsFreeBSD())
                throw new DllNotFoundException(
                    $"NeuralNet.Distributed: Open MPI's {LibraryName} is only supported on Linux; this is {RuntimeInformation.OSDescription}.");
            nint handle = OpenGlobal(out string? dlError);
            if (handle == 0)
                throw new DllNotFoundException(
                    $"NeuralNet.Distributed: cannot load Open MPI's C library {LibraryName} ({dlError}). " +
                    "Install Open MPI 4.x, e.g. 'apt-get install openmpi-bin libopenmpi-dev' on Debian/Ubuntu, and start the program with mpirun.");
            Handle = handle;

            CommWorld = Export("ompi_mpi_comm_world");
            Float = Export("ompi_mpi_float");
            Double = Export("ompi_mpi_double");
            Int = Export("ompi_mpi_int");
            Long = Export("ompi_mpi_long_long_int");
            Byte = Export("ompi_mpi_byte");
            OpSum = Export("ompi_mpi_op_sum");
            OpMax = Export("ompi_mpi_op_max");
            OpMin = Export("ompi_mpi_op_min");
            ErrorsReturn = Export("ompi_mpi_errors_return");

            Init = (delegate* unmanaged<int*, byte***, int>)Export("MPI_Init");
            Initialized = (delegate* unmanaged<int*, int>)Export("MPI_Initialized");
            InitThread = (delegate* unmanaged<int*, byte***, int, int*, int>)Export("MPI_Init_thread");
            QueryThread = (delegate* unmanaged<int*, int>)Export("MPI_Query_thread");
            Finalize = (delegate* unmanaged<int>)Export("MPI_Finalize");
            Finalized = (delegate* unmanaged<int*, int>)Export("MPI_Finalized");
            CommRank = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_rank");
            CommSize = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_size");
            CommSetErrhandler = (delegate* unmanaged<nint, nint, int>)Export("MPI_Comm_set_errhandler");
            Allreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)Export("MPI_Allreduce");
            Allgather = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int>)Export("MPI_Allgather");
            Alltoall = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int>)Export("MPI_Alltoall");
            Bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)Export("MPI_Bcast");
            Barrier = (delegate* unmanaged<nint, int>)Export("MPI_Barrier");
            Abort = (delegate* unmanaged<nint, int, int>)Export("MPI_Abort");
            ErrorString = (delegate* unmanaged<int, byte*, int*, int>)Export("MPI_Error_string");
            Wtime = (delegate* unmanaged<double>)Export("MPI_Wtime");
            CommDup = (delegate* unmanaged<nint, nint*, int>)Export("MPI_Comm_dup");
            Iallreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, nint*, int>)Export("MPI_Iallreduce");
            Iallgather = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, nint*, int>)Export("MPI_Iallgather");
            Ialltoall = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, nint*, int>)Export("MPI_Ialltoall");
            Ibcast = (delegate* unmanaged<void*, int, nint, int, nint, nint*, int>)Export("MPI_Ibcast");
            Ibarrier = (delegate* unmanaged<nint, nint*, int>)Export("MPI_Ibarrier");
            Test = (delegate* unmanaged<nint*, int*, Status*, int>)Export("MPI_Test");
            Isend = (delegate* unmanaged<void*, int, nint, int, int, nint, nint*, int>)Export("MPI_Isend");
            Irecv = (delegate* unmanaged<void*, int, nint, int, int, nint, nint*, int>)Export("MPI_Irecv");
            Recv = (delegate* unmanaged<void*, int, nint, int, int, nint, Status*, int>)Export("MPI_Recv");
            Iprobe = (delegate* unmanaged<int, int, nint, int*, Status*, int>)Export("MPI_Iprobe");
            _loaded = true;
        }
    }

    /// <summary>Open MPI's text for an error code, e.g. <c>MPI_ERR_TRUNCATE: message truncated</c>.</summary>
    public static string DescribeError(int code)
    {
        if (ErrorString == null) return $"MPI error {code}";
        byte* buffer = stackalloc byte[MaxErrorString + 1];
        int length = 0;
        if (ErrorString(code, buffer, &length) != Success || length <= 0) return $"MPI error {code}";
        return Encoding.ASCII.GetString(buffer, Math.Min(length, MaxErrorString));
    }

    private static nint Export(string name)
    {
        if (!NativeLibrary.TryGetExport(Handle, name, out nint address) || address == 0)
            throw new DllNotFoundException(
                $"NeuralNet.Distributed: {LibraryName} does not export '{name}'; an Open MPI 4.x library is required (MPICH and other MPI implementations have a different ABI).");
        return address;
    }

    private const int RtldNow = 0x2;
    private const int RtldGlobal = 0x100;

    [DllImport("libc", EntryPoint = "dlopen")]
    private static extern nint DlOpen(byte* file, int mode);

    [DllImport("libc", EntryPoint = "dlerror")]
    private static extern byte* DlError();

    private static nint OpenGlobal(out string? error)
    {
        error = null;
        try
        {
            byte[] name = Encoding.ASCII.GetBytes(LibraryName + "\0");
            fixed (byte* p = name)
            {
                nint handle = DlOpen(p, RtldNow | RtldGlobal);
                if (handle != 0) return handle;
                byte* message = DlError();
                error = message == null ? "dlopen failed" : Marshal.PtrToStringUTF8((nint)message);
                return 0;
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // No libc dlopen (unusual libc): fall back to the runtime's loader, which uses RTLD_LOCAL.
            if (NativeLibrary.TryLoad(LibraryName, out nint handle)) return handle;
            error = e.Message;
            return 0;
        }
    }
}
