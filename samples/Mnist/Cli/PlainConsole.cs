using System.Text;
using Microsoft.Win32.SafeHandles;

namespace MnistSample.Cli;

/// <summary>
/// Plain standard output and error for machine-readable output (<c>--json</c>): writers on file descriptors 1 and 2 in
/// place of .NET's console streams.
/// </summary>
/// <remarks>
/// When standard output is a terminal (an interactive shell, or the pseudo-terminal through which <c>mpirun</c>
/// forwards a rank's output), .NET's console writes the terminfo keypad-transmit string (<c>ESC[?1h ESC=</c> under
/// <c>TERM=xterm</c>) to standard output before the first character the program writes. A JSON consumer would then
/// read those bytes in front of the first <c>{</c>. The raw descriptors never trigger that initialization.
/// </remarks>
public static class PlainConsole
{
    /// <summary>Replaces <see cref="Console.Out"/> and <see cref="Console.Error"/>; call before anything is written.</summary>
    public static void Install()
    {
        Console.SetOut(Writer(1));
        Console.SetError(Writer(2));
    }

    private static TextWriter Writer(int descriptor) =>
        TextWriter.Synchronized(new StreamWriter(new FileStream(new SafeFileHandle(descriptor, ownsHandle: false), FileAccess.Write, bufferSize: 0),
            new UTF8Encoding(encoderShouldEmitUTF8Identifier: false)) { AutoFlush = true });
}
