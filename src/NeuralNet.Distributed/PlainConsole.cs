using System.Text;
using Microsoft.Win32.SafeHandles;

namespace NeuralNet.Distributed;

/// <summary>
/// Replaces <see cref="Console.Out"/> and <see cref="Console.Error"/> by plain writers on file descriptors 1 and 2.
/// </summary>
/// <remarks>
/// .NET's console on Unix initializes the terminal on its first write when standard output is a terminal: it writes the
/// terminfo "keypad transmit" string (<c>ESC[?1h ESC=</c> for <c>TERM=xterm</c>) to standard output. Open MPI forwards
/// a rank's output through a pseudo-terminal, so under <c>mpirun</c> every rank's standard output is a terminal and the
/// first line of the job's output starts with those bytes. Writers on the raw descriptors never initialize the
/// terminal. Colors and cursor control through <see cref="Console"/> are then unavailable, which a rank, whose output is
/// interleaved with the other ranks', has no use for.
/// </remarks>
internal static class PlainConsole
{
    private static bool _installed;

    /// <summary>Installs the plain writers (once per process), flushing whatever the current writers hold.</summary>
    public static void Install()
    {
        if (_installed) return;
        _installed = true;
        Console.Out.Flush();
        Console.Error.Flush();
        Console.SetOut(Writer(1));
        Console.SetError(Writer(2));
    }

    private static TextWriter Writer(int descriptor) =>
        TextWriter.Synchronized(new StreamWriter(new FileStream(new SafeFileHandle(descriptor, ownsHandle: false), FileAccess.Write, bufferSize: 0),
            new UTF8Encoding(encoderShouldEmitUTF8Identifier: false)) { AutoFlush = true });
}
