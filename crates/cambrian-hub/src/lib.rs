//! Hugging Face Hub client: listing with Link paging and expand[], model info, ranged reads; retries and rate limits.
