/**
 * The real series of ../shared/data that the benchmarks use: load-like ones (request rates,
 * utilisation, demand). Left out: temperatures and keystroke timings (not load), and the road travel
 * time, which is a duration rather than a demand. Paths relative to shared/data.
 */
export const LOAD_SERIES = [
  'nasa_http/nasa_http_1995-07_per_minute.csv',
  'nasa_http/nasa_http_1995-08-01_to_08-16_per_minute.csv',
  'twitter_stream_2021_08/tweets_per_minute_part1.csv',
  'nab/realKnownCause/nyc_taxi.csv',
  'nab/realKnownCause/cpu_utilization_asg_misconfiguration.csv',
  'nab/realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv',
  'nab/realAWSCloudwatch/ec2_cpu_utilization_53ea38.csv',
  'nab/realAWSCloudwatch/ec2_cpu_utilization_5f5533.csv',
  'nab/realAWSCloudwatch/ec2_cpu_utilization_77c1ca.csv',
  'nab/realAWSCloudwatch/ec2_cpu_utilization_825cc2.csv',
  'nab/realAWSCloudwatch/ec2_cpu_utilization_c6585a.csv',
  'nab/realAWSCloudwatch/ec2_disk_write_bytes_1ef3de.csv',
  'nab/realAWSCloudwatch/ec2_disk_write_bytes_c0d644.csv',
  'nab/realAWSCloudwatch/ec2_network_in_257a54.csv',
  'nab/realAWSCloudwatch/grok_asg_anomaly.csv',
  'nab/realAWSCloudwatch/iio_us-east-1_i-a2eb1cd9_NetworkIn.csv',
  'nab/realAWSCloudwatch/rds_cpu_utilization_cc0c53.csv',
  'nab/realTraffic/occupancy_6005.csv',
  'nab/realTraffic/occupancy_t4013.csv',
  'nab/realTraffic/speed_6005.csv',
  'nab/realTraffic/speed_7578.csv',
];

/**
 * Traces whose zeros are documented as holes in the source, not as zero load (shared/data/README.md:
 * "some minutes are 0 (gaps in the source grab)"). NASA's zeros in August are a real outage and stay.
 */
export const ZERO_IS_MISSING = new Set(['twitter_stream_2021_08/tweets_per_minute_part1.csv']);
