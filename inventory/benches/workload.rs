//! The generated spec and request mix shared by the classification bench and the
//! instruction-count example.

/// Resources of the generated spec; five operations each.
pub const RESOURCES: usize = 40;

/// Requests classified per iteration.
pub const BATCH: usize = 1024;

/// A spec of `RESOURCES` x 5 = 200 operations on two hosts: list, create, get, replace,
/// delete; every fourth resource nested under the previous one's item, every fifth with a
/// literal `search` beside its parameter.
pub fn spec_yaml() -> String {
    let mut y = String::from(
        "openapi: 3.0.3\ninfo: {title: Bench, version: '1'}\nservers:\n  - url: https://api.bench.test/api/v1\n  - url: https://api2.bench.test/api/v1\npaths:\n",
    );
    let ok = "responses: {'200': {description: ok}, '404': {description: no}}";
    for i in 0..RESOURCES {
        let base = if i % 4 == 3 {
            format!("/res{}/{{parent_id}}/res{i}", i - 1)
        } else {
            format!("/res{i}")
        };
        let name = if i % 5 == 4 { "search" } else { "list" };
        y.push_str(&format!(
            "  {base}:\n    get: {{operationId: {name}{i}, parameters: [{{name: page, in: query}}, {{name: q, in: query}}], {ok}}}\n    post: {{operationId: create{i}, requestBody: {{content: {{application/json: {{}}}}}}, {ok}}}\n  {base}/{{id}}:\n    get: {{operationId: get{i}, {ok}}}\n    put: {{operationId: put{i}, {ok}}}\n    delete: {{operationId: delete{i}, deprecated: {}, {ok}}}\n",
            i % 7 == 0
        ));
    }
    y
}

/// One request of the mix: 70 % documented (some with drift), 20 % shadow, 10 % unmanaged.
pub fn request(i: usize) -> (String, String, String, Option<String>) {
    let r = i * 7 % RESOURCES;
    let path = match i % 10 {
        0..=2 => format!("/api/v1/res{r}"),
        3..=5 => format!("/api/v1/res{r}/{}", 1000 + i),
        6 => format!("/api/v1/res{r}/{}/extra", i),
        7 => format!("/api/v1/admin/res{r}"),
        _ => format!("/api/v1/res{r}"),
    };
    let host = match i % 10 {
        9 => "other.bench.test",
        n if n % 2 == 0 => "api.bench.test",
        _ => "api2.bench.test:443",
    };
    let method = if i % 10 == 5 { "DELETE" } else { "GET" };
    let query = (i % 3 == 0).then(|| format!("page={i}&q=x&debug={}", i % 2));
    (host.into(), method.into(), path, query)
}

/// A 1 KiB product listing, the bench's JSON body.
pub fn listing_body() -> String {
    format!(
        "{{\"page\": 1, \"items\": [{}]}}",
        (0..10)
            .map(|i| format!(
                "{{\"id\": {i}, \"sku\": \"SKU-{i:04}\", \"name\": \"red mug\", \"price\": 12.5, \"in_stock\": true, \"tags\": [\"a\", \"b\"]}}"
            ))
            .collect::<Vec<_>>()
            .join(",")
    )
}
