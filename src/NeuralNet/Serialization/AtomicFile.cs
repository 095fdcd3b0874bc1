namespace NeuralNet.Serialization;

/// <summary>
/// Writes files atomically: readers (and a process restarted after a crash) see either the complete previous file or
/// the complete new one, never a partial write.
/// </summary>
/// <remarks>
/// The content goes to a temporary file in the target's directory (so the final rename stays on one file system), is
/// flushed to the storage device (<see cref="FileStream.Flush(bool)"/> with <c>flushToDisk: true</c>), and is then
/// renamed over the target with <see cref="File.Move(string, string, bool)"/>, which is an atomic <c>rename(2)</c> on
/// Unix and <c>MoveFileEx(MOVEFILE_REPLACE_EXISTING)</c> on Windows. If the writer throws, the temporary file is deleted
/// and the target is untouched.
/// </remarks>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="path"/> atomically with the bytes produced by <paramref name="write"/>.</summary>
    /// <param name="path">The target file; its directory must exist.</param>
    /// <param name="write">Writes the whole content to the stream it is given; it must not close the stream.</param>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty or its directory does not exist.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full) ?? ".";
        if (!Directory.Exists(directory))
            throw new ArgumentException($"AtomicFile: the directory '{directory}' of '{path}' does not exist.", nameof(path));

        // A random suffix keeps two concurrent writers of the same target from sharing a temporary file.
        string temp = Path.Combine(directory, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically.</summary>
    /// <param name="path">The target file; its directory must exist.</param>
    /// <param name="bytes">The complete new content.</param>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        // Spans cannot be captured by the lambda, so copy once; model files are small next to the training data.
        byte[] copy = bytes.ToArray();
        Write(path, s => s.Write(copy, 0, copy.Length));
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
