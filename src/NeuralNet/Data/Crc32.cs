namespace NeuralNet.Data;

/// <summary>The CRC-32 of gzip and PNG (IEEE 802.3, reflected polynomial 0xEDB88320), slicing by eight bytes.</summary>
internal static class Crc32
{
    private static readonly uint[] Table = BuildTable();

    /// <summary>Continues a CRC: start with 0, pass the previous result to extend it over more bytes.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        uint c = ~crc;
        ReadOnlySpan<uint> t = Table;
        while (data.Length >= 8)
        {
            uint a = c ^ System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(data);
            uint b = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
            c = t[7 * 256 + (int)(a & 0xFF)] ^ t[6 * 256 + (int)((a >> 8) & 0xFF)] ^ t[5 * 256 + (int)((a >> 16) & 0xFF)] ^ t[4 * 256 + (int)(a >> 24)]
              ^ t[3 * 256 + (int)(b & 0xFF)] ^ t[2 * 256 + (int)((b >> 8) & 0xFF)] ^ t[256 + (int)((b >> 16) & 0xFF)] ^ t[(int)(b >> 24)];
            data = data[8..];
        }
        foreach (byte x in data) c = t[(int)((c ^ x) & 0xFF)] ^ (c >> 8);
        return ~c;
    }

    private static uint[] BuildTable()
    {
        var t = new uint[8 * 256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        for (int s = 1; s < 8; s++)
            for (int n = 0; n < 256; n++)
                t[s * 256 + n] = (t[(s - 1) * 256 + n] >> 8) ^ t[t[(s - 1) * 256 + n] & 0xFF];
        return t;
    }
}
